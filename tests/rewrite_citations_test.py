#!/usr/bin/env python3
"""tools/rewrite-citations.py on hand-written lines: explicit, bare, ranged, escaped and
split citations map to the docs/ sections of its table, and a second run changes nothing."""
import importlib.util
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "rw", os.path.join(here, "..", "tools", "rewrite-citations.py"))
rw = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rw)

CASES = [
    ("// gate (core.md §3.6)", "// gate (docs/protocol.md §1.3.6)"),
    ("// sdk.md §2.4 step 4", "// docs/protocol.md §2.2.4 step 4"),
    ("// service.md §1.3–1.4, §6.2.5", "// docs/protocol.md §3.1.3–3.1.4, §3.6.2.5"),
    ("// service.md Appendix A, §1.5-1.9", "// docs/protocol.md §3.A, §3.1.5-3.1.9"),
    ("// DESIGN.md §3, §5", "// docs/architecture.md §2, docs/invariants.md §1"),
    ("// DESIGN.md §10", "// docs/cli.md §1"),
    ('"x (service.md \\u00a72.1, \\u00a72.2)"', '"x (docs/protocol.md \\u00a73.2.1, \\u00a73.2.2)"'),
    ("// service.md I3", "// docs/protocol.md §3.6.1 I3"),
    ("// against service.md.", "// against docs/protocol.md §3."),
]
failures = 0
for old, want in CASES:
    got = rw.rewrite_text(old, "case", [])
    if got != want:
        failures += 1
        print(f"FAIL: {old!r}\n  got  {got!r}\n  want {want!r}")

# Bare sections take the note the file cited last; a line-broken citation stays one citation.
text = "\n".join([
    "// Model of service.md.",
    "// batch (§1.3), marker after mapping (§1.4); quirk §7.2 (its parent: no such subsection)",
    "// split across lines (core.md",
    "// §4.2 applied priority)",
    "// then sdk.md §1.1; bare §7.3",
])
want = "\n".join([
    "// Model of docs/protocol.md §3.",
    "// batch (§3.1.3), marker after mapping (§3.1.4); quirk §3.7 (its parent: no such subsection)",
    "// split across lines (docs/protocol.md",
    "// §1.4.2 applied priority)",
    "// then docs/protocol.md §2.1.1; bare §2.7.3",
])
got = rw.rewrite_text(text, "case", [])
if got != want:
    failures += 1
    print("FAIL: bare/split case\n" + "\n".join(f"  got  {g}\n  want {w}" for g, w in
                                               zip(got.split("\n"), want.split("\n")) if g != w))
# Idempotent: rewritten text has no old citation left and a second pass changes nothing.
for old, _ in CASES:
    once = rw.rewrite_text(old, "case", [])
    if rw.rewrite_text(once, "case", []) != once:
        failures += 1
        print(f"FAIL: not idempotent on {old!r}")
if rw.rewrite_text(got, "case", []) != got:
    failures += 1
    print("FAIL: not idempotent on the bare/split case")
# Every section of every note is in the table, and every target is a docs/ page.
for (note, sec), (page, new) in rw.SECTION_MAP.items():
    if not os.path.exists(os.path.join(here, "..", "docs", page + ".md")):
        failures += 1
        print(f"FAIL: {note}.md §{sec} -> docs/{page}.md, which does not exist")
print(f"rewrite_citations_test: {len(CASES) + 2} cases, {len(rw.SECTION_MAP)} table rows, {failures} failures")
sys.exit(1 if failures else 0)
