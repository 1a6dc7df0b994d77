#!/usr/bin/env python3
"""CPU seconds per ctest test (docs/performance-ci.md "quick21"): runs every test ctest would
select, one at a time, with the test's environment and working directory, and prints one line
per test: name, CPU-s (user + sys of the test and every child it waited for), wall-s, exit code.

    tests/quick_cpu.py BUILD_DIR [ctest selection args, e.g. -L quick -R Catalog] > cpu.tsv

Not a test: a measurement (ctest records wall seconds only, which follow the machine's load).
"""
import json
import os
import resource
import subprocess
import sys
import time


def main():
    build = sys.argv[1]
    listing = subprocess.check_output(
        ["ctest", "--test-dir", build, "--show-only=json-v1"] + sys.argv[2:])
    for test in json.loads(listing)["tests"]:
        env = dict(os.environ)
        cwd = build
        for prop in test.get("properties", []):
            if prop["name"] == "ENVIRONMENT":
                for entry in prop["value"]:
                    key, _, value = entry.partition("=")
                    env[key] = value
            elif prop["name"] == "WORKING_DIRECTORY":
                cwd = prop["value"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.time()
        rc = subprocess.call(test["command"], env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        wall = time.time() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"{test['name']}\t{cpu:.3f}\t{wall:.3f}\t{rc}", flush=True)


if __name__ == "__main__":
    main()
