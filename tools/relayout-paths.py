#!/usr/bin/env python3
"""Rewrites paths from before the scenarios/ layout (issue 15) in the given files, in place:
scenarios/<name>.{hpp,cpp,*} -> scenarios/<part>/<name>.<ext>, tests/scenario_helpers.hpp ->
tests/support/scenario_helpers.hpp.  For branches started before the layout landed:
    tools/relayout-paths.py $(git ls-files)
Prints each file it changed with the number of rewrites."""
import re
import sys

PARTS = {
    "format": "scenario scenario_parse scenario_reader scenario_sections scenario_faults overrides "
              "generators metric_names",
    "world": "world runner faulty_server determinism twin sync_lines service_options",
    "checks": "cross_checks client_invariants liveness stream_invariants violation",
    "results": "results results_json results_shape repro run_recorder merge_stream document_reader "
               "findings",
    "differential": "differential divergence observation",
}
MOVED = {name: part for part, names in PARTS.items() for name in names.split()}
PATTERN = re.compile(r"(?<![\w/])scenarios/(" + "|".join(sorted(MOVED, key=len, reverse=True)) +
                     r")(?=\.(?:hpp|cpp|\*|\{))")


def rewrite(text):
    text, n = PATTERN.subn(lambda m: f"scenarios/{MOVED[m.group(1)]}/{m.group(1)}", text)
    text, k = re.subn(r"(?<![\w/])tests/scenario_helpers\.hpp", "tests/support/scenario_helpers.hpp",
                      text)
    return text, n + k


def main(paths):
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError):
            continue
        new, n = rewrite(text)
        if n:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
            print(f"{n} {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
