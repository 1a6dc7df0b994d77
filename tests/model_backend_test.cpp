// Unit tests of the model's app backend: uploads applied to the source database.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/backend.hpp"
#include "model/source_db.hpp"

namespace syncsim::model {
namespace {

using nlohmann::json;
using sim::kEpoch;

// ---------------------------------------------------------------------------------------
// Backend
// ---------------------------------------------------------------------------------------

TEST(Backend, PutPatchDeleteAreAppliedLastWriterWins) {
  SourceDb source;
  Backend backend(source);
  const RowKey t1{"todos", "t1"};
  Lsn lsn =
      backend.apply(kEpoch, "alice", "ca", json::parse(R"([{"op":"PUT","type":"todos","id":"t1",
                                           "data":{"title":"a","done":false}}])"));
  EXPECT_EQ(lsn, 1);
  ASSERT_TRUE(source.row(t1));
  EXPECT_EQ(json::parse(source.row(t1)->data), json::parse(R"({"title":"a","done":false})"));
  EXPECT_EQ(source.row(t1)->owner, "alice");

  // PATCH merges columns and takes ownership (the last writer).
  lsn = backend.apply(
      kEpoch + 1, "bob", "cb",
      json::parse(R"([{"op":"PATCH","type":"todos","id":"t1","data":{"done":true}}])"));
  EXPECT_EQ(lsn, 2);
  EXPECT_EQ(json::parse(source.row(t1)->data), json::parse(R"({"title":"a","done":true})"));
  EXPECT_EQ(source.row(t1)->owner, "bob");

  // PUT replaces the whole row.
  backend.apply(kEpoch + 2, "alice", "ca",
                json::parse(R"([{"op":"PUT","type":"todos","id":"t1","data":{"title":"b"}}])"));
  EXPECT_EQ(json::parse(source.row(t1)->data), json::parse(R"({"title":"b"})"));

  // Several entries in one batch: applied in order, one commit.
  lsn = backend.apply(kEpoch + 3, "carol", "cc", json::parse(R"([
      {"op":"PATCH","type":"todos","id":"t2","data":{"x":1}},
      {"op":"PATCH","type":"todos","id":"t2","data":{"y":2}},
      {"op":"DELETE","type":"todos","id":"t1"},
      {"op":"PUT","type":"notes","id":"n1"}])"));
  EXPECT_EQ(lsn, 4);
  EXPECT_FALSE(source.row(t1).has_value());
  ASSERT_TRUE(source.row(RowKey{"todos", "t2"}));
  EXPECT_EQ(json::parse(source.row(RowKey{"todos", "t2"})->data), json::parse(R"({"x":1,"y":2})"));
  ASSERT_TRUE(source.row(RowKey{"notes", "n1"}));
  EXPECT_EQ(source.row(RowKey{"notes", "n1"})->data, "{}");
  EXPECT_EQ(source.head(), 4);
  EXPECT_EQ(source.log().size(), 4u);

  // Deleting a missing row is not an error.
  backend.apply(kEpoch + 4, "carol", "cc",
                json::parse(R"([{"op":"DELETE","type":"todos","id":"nope"}])"));
  EXPECT_EQ(source.head(), 5);
}

TEST(Backend, LogRecordsEveryApplyWithItsLsn) {
  SourceDb source;
  Backend backend(source);
  source.commit(kEpoch, CommitKind::Marker, {});  // other commits interleave
  backend.apply(kEpoch, "alice", "ca",
                json::parse(R"([{"op":"PUT","type":"todos","id":"t1","data":{"a":1}},
                                {"op":"DELETE","type":"todos","id":"t1"}])"));
  source.commit(kEpoch, CommitKind::Marker, {});
  backend.apply(kEpoch, "bob", "cb", json::parse(R"([{"op":"PUT","type":"todos","id":"t3"}])"));
  const auto& log = backend.log();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].lsn, 2);
  EXPECT_EQ(log[0].user, "alice");
  EXPECT_EQ(log[0].client_id, "ca");
  ASSERT_EQ(log[0].changes.size(), 2u);
  EXPECT_EQ(log[0].changes[0].key, (RowKey{"todos", "t1"}));
  ASSERT_TRUE(log[0].changes[0].after.has_value());
  EXPECT_EQ(log[0].changes[0].after->data, R"({"a":1})");
  EXPECT_FALSE(log[0].changes[1].after.has_value());
  EXPECT_EQ(log[1].lsn, 4);
  EXPECT_EQ(log[1].user, "bob");
  // The source commit carries the same changes.
  EXPECT_EQ(source.commit_at(1).lsn, 2);
  EXPECT_EQ(source.commit_at(1).kind, CommitKind::Data);
  EXPECT_EQ(source.commit_at(1).changes.size(), 2u);
}

TEST(Backend, MalformedEntryAppliesNothing) {
  const std::vector<std::string> bad{
      R"([{"op":"PUT","type":"todos","id":"ok","data":{}}, {"op":"PUT","type":"todos","id":7}])",
      R"([{"op":"PUT","type":"todos","id":"ok"}, {"op":"UPSERT","type":"todos","id":"x"}])",
      R"([{"op":"PUT","type":"todos","id":"ok"}, {"op":"PUT","type":"todos","id":"x","data":[1]}])",
      R"([{"op":"PUT","type":"todos","id":"ok"}, {"type":"todos","id":"x"}])",
      R"([{"op":"PUT","type":"todos","id":"ok"}, "PUT"])",
      R"([{"op":"PUT","id":"ok"}])",
      R"([])",
      R"({"op":"PUT","type":"todos","id":"ok"})",
  };
  for (const auto& text : bad) {
    SourceDb source;
    Backend backend(source);
    backend.apply(kEpoch, "alice", "ca",
                  json::parse(R"([{"op":"PUT","type":"todos","id":"keep","data":{"v":1}}])"));
    EXPECT_THROW(backend.apply(kEpoch, "bob", "cb", json::parse(text)), std::invalid_argument)
        << text;
    EXPECT_EQ(source.head(), 1) << text;
    EXPECT_EQ(source.rows().size(), 1u) << text;
    EXPECT_FALSE(source.row(RowKey{"todos", "ok"}).has_value()) << text;
    EXPECT_EQ(source.row(RowKey{"todos", "keep"})->owner, "alice") << text;
    EXPECT_EQ(backend.log().size(), 1u) << text;
  }
}

}  // namespace
}  // namespace syncsim::model
