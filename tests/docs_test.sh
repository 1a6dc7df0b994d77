#!/usr/bin/env bash
# The documentation lives in the repository and is cited correctly:
#  1. no file (but this test and the citation rewriter) cites the team's notes that are not in
#     the repository (DESIGN.md, core.md, sdk.md, service.md, ../shared);
#  2. every `docs/<page>.md §N` citation in the repository, and every `<page>.md §N` inside
#     docs/, names a section that exists (a heading `## N ...` or a `**N ...**` item label);
#  3. every relative Markdown link into docs/ (`page.md#anchor`) names an existing heading;
#  4. every world-hunt finding cited as `findings-world.md Wn` (or a range `Wn–Wm`) has its
#     heading `### Wn ...` there, and no file cites a W finding on another page.
# Usage: tests/docs_test.sh [SOURCE_DIR]
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
exec python3 - "$root" <<'PY'
import os, re, subprocess, sys

root = sys.argv[1]
PAGES = ["architecture", "protocol", "scenarios", "faults", "invariants", "cli", "reports",
         "performance", "performance-framework", "performance-scale", "performance-js-real", "performance-ci",
         "findings", "findings-world"]
SELF = {"tests/docs_test.sh", "tools/rewrite-citations.py", "tests/rewrite_citations_test.py"}
OLD = re.compile(r"\.\./shared|\bshared/(?:seeds|protocol|reviews)\b|\b(?:DESIGN|core|sdk|service)\.md\b")
TEXT = (".cpp", ".hpp", ".h", ".c", ".json", ".sh", ".txt", ".cmake", ".md", ".html", ".py",
        ".js", ".mjs", ".yml", ".yaml", ".in")

def files():
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], capture_output=True, check=True).stdout
        paths = [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        paths = []
        for d, dirs, fs in os.walk(root):
            dirs[:] = [x for x in dirs if x not in (".git", "build")]
            paths += [os.path.relpath(os.path.join(d, f), root) for f in fs]
    for p in sorted(set(paths)):
        if p.startswith("build/") or not os.path.isfile(os.path.join(root, p)):
            continue
        if p.endswith(TEXT) or os.path.basename(p) in ("CMakeLists.txt", "run", "Dockerfile"):
            yield p

def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)   # GitHub: drop punctuation, keep word chars, '-' and ' '
    return s.replace(" ", "-")

sections, anchors = {}, {}
for page in PAGES:
    path = os.path.join(root, "docs", page + ".md")
    if not os.path.exists(path):
        print(f"FAIL: docs/{page}.md is missing"); sys.exit(1)
    text = open(path, encoding="utf-8").read()
    text_nocode = re.sub(r"```.*?```", "", text, flags=re.S)
    secs, anch = set(), set()
    for m in re.finditer(r"^#{1,6} +(.+)$", text_nocode, re.M):
        anch.add(slug(m.group(1)))
        n = re.match(r"([0-9]+(?:\.[0-9A-Z]+)*)\b", m.group(1))
        if n: secs.add(n.group(1))
    for m in re.finditer(r"\*\*([0-9]+(?:\.[0-9]+)+) ", text_nocode):
        secs.add(m.group(1))
    sections[page], anchors[page] = secs, anch
world_findings = set(re.findall(r"^### (W[0-9]+) ", open(os.path.join(
    root, "docs", "findings-world.md"), encoding="utf-8").read(), re.M))

failures = []
cite = re.compile(r"\b(?:docs/)?(" + "|".join(PAGES) + r")\.md((?:,? ?(?:and )?(?:\u00a7|\\u00a7) ?"
                  r"[0-9]+(?:\.[0-9A-Z]+)*(?:[\u2013-][0-9]+(?:\.[0-9A-Z]+)*)?)+)")
ref = re.compile(r"(?:\u00a7|\\u00a7) ?([0-9]+(?:\.[0-9A-Z]+)*)(?:[\u2013-]([0-9]+(?:\.[0-9A-Z]+)*))?")
wcite = re.compile(r"\b([\w-]+)\.md\]?(?:\([\w-]+\.md\))?,? (W[0-9]+)(?:[\u2013-](W[0-9]+))?")
link = re.compile(r"\]\((?:docs/)?((?:" + "|".join(PAGES) + r"))\.md#([^)\s]+)\)")
checked = 0
for rel in files():
    text = open(os.path.join(root, rel), encoding="utf-8", errors="replace").read()
    in_docs = rel.startswith("docs/")
    for i, line in enumerate(text.split("\n"), 1):
        if rel not in SELF and OLD.search(line):
            failures.append(f"{rel}:{i}: cites notes outside the repository: {line.strip()[:140]}")
        for m in cite.finditer(line):
            if not in_docs and not m.group(0).startswith("docs/") and rel != "README.md":
                continue  # outside docs/ only `docs/page.md §N` is a citation
            page = m.group(1)
            for r in ref.finditer(m.group(2)):
                for sec in filter(None, (r.group(1), r.group(2))):
                    checked += 1
                    if sec not in sections[page]:
                        failures.append(f"{rel}:{i}: {page}.md \u00a7{sec} does not exist")
        for m in wcite.finditer(line):
            checked += 1
            if m.group(1) != "findings-world":
                failures.append(f"{rel}:{i}: {m.group(1)}.md {m.group(2)}: world-hunt findings "
                                "are in findings-world.md")
            for w in filter(None, (m.group(2), m.group(3))):
                if w not in world_findings:
                    failures.append(f"{rel}:{i}: findings-world.md {w} does not exist")
        if rel.endswith(".md"):
            for m in link.finditer(line):
                checked += 1
                if m.group(2) not in anchors[m.group(1)]:
                    failures.append(f"{rel}:{i}: link {m.group(1)}.md#{m.group(2)}: no such heading")

for f in failures:
    print("FAIL:", f)
print(f"docs_test: {checked} citations and links checked, {len(failures)} problems")
sys.exit(1 if failures or checked == 0 else 0)
PY
