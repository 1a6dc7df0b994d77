#!/usr/bin/env python3
"""Small seeds for the results/reports fuzzers (tests/fuzz/corpus/{results,reports}/small-*).

A results document of `run --results` is 14-48 KB; the fuzzers run several times faster on a
document of the same shape with one run, a short timeline, few samples and metrics and short
statements.  `syncsim report` and `syncsim merge` accept what this writes.
    trim_results.py IN.json OUT.json
"""
import json
import sys


def shorten(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "statement" and isinstance(v, str):
                obj[k] = v[:24]
            else:
                shorten(v)
    elif isinstance(obj, list):
        for v in obj:
            shorten(v)


def main(src, dst):
    d = json.load(open(src))
    d["runs"] = d["runs"][:1]
    for r in d["runs"]:
        t = r.get("timeline")
        if isinstance(t, dict):
            for k in ("spans", "events", "active_faults"):
                if isinstance(t.get(k), list):
                    t[k] = t[k][:4]
            t["total"] = len(t.get("spans", [])) + len(t.get("events", []))
        if isinstance(r.get("samples"), dict):
            r["samples"] = {k: ";".join(v.split(";")[:2]) for k, v in list(r["samples"].items())[:2]}
        if isinstance(r.get("metrics"), dict):
            r["metrics"] = dict(list(r["metrics"].items())[:6])
    d["passed"] = sum(1 for r in d["runs"] if r.get("expectation_met"))
    d["failed"] = len(d["runs"]) - d["passed"]
    shorten(d)
    with open(dst, "w") as out:
        json.dump(d, out, separators=(",", ":"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
