#!/usr/bin/env python3
"""Runs the README's runnable command blocks verbatim and checks their exit codes.

A fenced block whose info string is `sh runnable` (or `sh runnable long`) is a runnable
example. Each block runs as one `bash -e -o pipefail` script, in order, in one scratch
directory that mirrors the source tree (symlinks) with `build/` pointing at the build tree,
so files a block writes (results, reports, shrunk scenarios) stay out of the source tree and
later blocks can use them. A block's expected exit code is 0 unless it has a line
`# exit: N`. Blocks marked `long` run only with --long (the `long` ctest label); without it
they are skipped, and the other way round. `./test.sh` and `./run.sh` are never run here.

Usage: readme_commands_test.py SOURCE_DIR BUILD_DIR [--long]
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

MIN_QUICK_BLOCKS = 5  # the tour has more; fewer means the markers were lost, not that it passes


def blocks(readme):
    out = []
    fence = None
    for lineno, line in enumerate(open(readme, encoding="utf-8"), 1):
        if fence is None:
            m = re.match(r"^```(\S*)(.*)$", line.rstrip("\n"))
            if m:
                words = (m.group(1) + " " + m.group(2)).split()
                fence = {"line": lineno, "words": words, "body": []}
        elif line.startswith("```"):
            if "runnable" in fence["words"]:
                out.append(fence)
            fence = None
        else:
            fence["body"].append(line)
    return out


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    src, build = os.path.abspath(argv[0]), os.path.abspath(argv[1])
    long_mode = "--long" in argv[2:]
    found = blocks(os.path.join(src, "README.md"))
    chosen = [b for b in found if ("long" in b["words"]) == long_mode]
    if not long_mode and len(chosen) < MIN_QUICK_BLOCKS:
        print(f"FAIL: only {len(chosen)} quick runnable blocks in README.md (expected >= {MIN_QUICK_BLOCKS})")
        return 1
    if long_mode and not chosen:
        print("FAIL: no `long` runnable block in README.md")
        return 1
    work = tempfile.mkdtemp(prefix="syncsim-readme-")
    failures = 0
    try:
        for name in sorted(os.listdir(src)):
            if name in ("build", ".git"):
                continue
            os.symlink(os.path.join(src, name), os.path.join(work, name))
        os.symlink(build, os.path.join(work, "build"))
        for b in chosen:
            script = "".join(b["body"])
            if re.search(r"(^|\s)\./(test|run)\.sh\b", script):
                print(f"FAIL: README.md:{b['line']}: runnable blocks must not run ./test.sh or ./run.sh")
                failures += 1
                continue
            m = re.search(r"^#\s*exit:\s*([0-9]+)\s*$", script, re.M)
            want = int(m.group(1)) if m else 0
            proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=work,
                                  capture_output=True, text=True, timeout=1800)
            ok = proc.returncode == want
            print(f"{'ok  ' if ok else 'FAIL'} README.md:{b['line']}: exit {proc.returncode} (want {want})")
            if not ok:
                failures += 1
                print("---- script ----\n" + script + "---- stdout (tail) ----")
                print("\n".join(proc.stdout.splitlines()[-25:]))
                print("---- stderr (tail) ----")
                print("\n".join(proc.stderr.splitlines()[-25:]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"readme_commands: {len(chosen)} blocks run, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
