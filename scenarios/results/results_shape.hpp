// The shape of a results document (`run --results`, `sweep --results`, `merge`), checked once
// when `merge` or `report` reads one (issue 19): a field of the wrong type or a missing
// required field is bad input naming the field, not a JSON-library exception deep inside the
// summary or the report model.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace syncsim::scenarios {

// "" when `doc` has the shape the readers rely on, else the first problem, e.g.
// "runs[2].stop: 5 is a number; allowed: a string".  Unknown fields are allowed.
std::string results_shape_error(const nlohmann::json& doc);

}  // namespace syncsim::scenarios
