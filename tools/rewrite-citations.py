#!/usr/bin/env python3
"""Rewrites citations of the team's notes (outside the repository) into citations of docs/.

Code and catalog files used to cite `DESIGN.md §N` and the protocol notes `core.md §N`,
`sdk.md §N`, `service.md §N`, which a user who clones syncsim cannot read.  The notes are
restated in docs/; this script rewrites every such citation to the docs/ section that
restates it, using the explicit table SECTION_MAP below:

    core.md §3.6           -> docs/protocol.md §1.3.6   (part 1: the core extension)
    sdk.md §2.4            -> docs/protocol.md §2.2.4   (part 2: the JS SDK)
    service.md §1.5        -> docs/protocol.md §3.1.5   (part 3: the service)
    service.md Appendix A  -> docs/protocol.md §3.A
    DESIGN.md §5           -> docs/invariants.md §1     (DESIGN.md is split by topic)

A bare `§1.4` (no file named on the spot) belongs to the note the same file cited last
(or first, if none before it); it is renumbered in place, or written out in full when it
lands on another page.  Running the script twice changes nothing the second time: rewritten
citations name docs/ and no longer match, and bare sections are only touched in files
that still name an old note.

After a run (the longer citations push some comment lines past 100 columns, and catalog
descriptions appear in the committed example reports, which the script rewrites the same way):
    git add -A && git clang-format --extensions cpp,hpp   # reflows only the touched lines
    reports/regenerate.sh && git diff --stat reports/     # expect no change
Some rewritten strings are checker or validation messages (the same text in code and tests).

Usage: tools/rewrite-citations.py [--check] [ROOT]   (ROOT defaults to the repository root)
  --check   change nothing; list what would change; exit 1 if anything would.
Prints every change as `path:line: old -> new`.
"""

import os
import re
import subprocess
import sys

# (note, old section) -> (docs page, new section).  Every section of the notes that exists.
SECTION_MAP = {
    # DESIGN.md is split by topic over several pages.
    ("DESIGN", "1"): ("protocol", "0.1"),
    ("DESIGN", "2"): ("architecture", "1"),
    ("DESIGN", "3"): ("architecture", "2"),
    ("DESIGN", "4"): ("architecture", "3"),
    ("DESIGN", "5"): ("invariants", "1"),
    ("DESIGN", "6"): ("faults", "1"),
    ("DESIGN", "7"): ("scenarios", "1"),
    ("DESIGN", "8"): ("reports", "1"),
    ("DESIGN", "9"): ("cli", "6"),
    ("DESIGN", "10"): ("cli", "1"),
    ("DESIGN", "11"): ("architecture", "4"),
    # core.md -> part 1 of docs/protocol.md
    ("core", "0"): ("protocol", "1.0"), ("core", "0.1"): ("protocol", "1.0.1"), ("core", "1"): ("protocol", "1.1"),
    ("core", "1.1"): ("protocol", "1.1.1"), ("core", "1.2"): ("protocol", "1.1.2"), ("core", "2"): ("protocol", "1.2"),
    ("core", "2.1"): ("protocol", "1.2.1"), ("core", "2.2"): ("protocol", "1.2.2"), ("core", "2.3"): ("protocol", "1.2.3"),
    ("core", "2.4"): ("protocol", "1.2.4"), ("core", "2.5"): ("protocol", "1.2.5"), ("core", "2.6"): ("protocol", "1.2.6"),
    ("core", "3"): ("protocol", "1.3"), ("core", "3.1"): ("protocol", "1.3.1"), ("core", "3.2"): ("protocol", "1.3.2"),
    ("core", "3.3"): ("protocol", "1.3.3"), ("core", "3.4"): ("protocol", "1.3.4"), ("core", "3.5"): ("protocol", "1.3.5"),
    ("core", "3.6"): ("protocol", "1.3.6"), ("core", "3.7"): ("protocol", "1.3.7"), ("core", "3.8"): ("protocol", "1.3.8"),
    ("core", "3.9"): ("protocol", "1.3.9"), ("core", "3.10"): ("protocol", "1.3.10"), ("core", "3.11"): ("protocol", "1.3.11"),
    ("core", "3.12"): ("protocol", "1.3.12"), ("core", "4"): ("protocol", "1.4"), ("core", "4.1"): ("protocol", "1.4.1"),
    ("core", "4.2"): ("protocol", "1.4.2"), ("core", "4.3"): ("protocol", "1.4.3"), ("core", "5"): ("protocol", "1.5"),
    ("core", "5.1"): ("protocol", "1.5.1"), ("core", "5.2"): ("protocol", "1.5.2"), ("core", "5.3"): ("protocol", "1.5.3"),
    ("core", "5.4"): ("protocol", "1.5.4"), ("core", "5.5"): ("protocol", "1.5.5"), ("core", "5.6"): ("protocol", "1.5.6"),
    ("core", "5.7"): ("protocol", "1.5.7"), ("core", "6"): ("protocol", "1.6"), ("core", "8"): ("protocol", "1.8"),
    # sdk.md -> part 2 of docs/protocol.md
    ("sdk", "0"): ("protocol", "2.0"), ("sdk", "1"): ("protocol", "2.1"), ("sdk", "1.1"): ("protocol", "2.1.1"),
    ("sdk", "1.2"): ("protocol", "2.1.2"), ("sdk", "1.3"): ("protocol", "2.1.3"), ("sdk", "1.4"): ("protocol", "2.1.4"),
    ("sdk", "1.5"): ("protocol", "2.1.5"), ("sdk", "1.6"): ("protocol", "2.1.6"), ("sdk", "1.7"): ("protocol", "2.1.7"),
    ("sdk", "1.8"): ("protocol", "2.1.8"), ("sdk", "1.9"): ("protocol", "2.1.9"), ("sdk", "2"): ("protocol", "2.2"),
    ("sdk", "2.1"): ("protocol", "2.2.1"), ("sdk", "2.2"): ("protocol", "2.2.2"), ("sdk", "2.3"): ("protocol", "2.2.3"),
    ("sdk", "2.4"): ("protocol", "2.2.4"), ("sdk", "2.5"): ("protocol", "2.2.5"), ("sdk", "2.6"): ("protocol", "2.2.6"),
    ("sdk", "2.7"): ("protocol", "2.2.7"), ("sdk", "3"): ("protocol", "2.3"), ("sdk", "3.1"): ("protocol", "2.3.1"),
    ("sdk", "3.2"): ("protocol", "2.3.2"), ("sdk", "3.3"): ("protocol", "2.3.3"), ("sdk", "3.4"): ("protocol", "2.3.4"),
    ("sdk", "4"): ("protocol", "2.4"), ("sdk", "4.1"): ("protocol", "2.4.1"), ("sdk", "4.2"): ("protocol", "2.4.2"),
    ("sdk", "4.3"): ("protocol", "2.4.3"), ("sdk", "4.4"): ("protocol", "2.4.4"), ("sdk", "5"): ("protocol", "2.5"),
    ("sdk", "6"): ("protocol", "2.6"), ("sdk", "7"): ("protocol", "2.7"), ("sdk", "7.1"): ("protocol", "2.7.1"),
    ("sdk", "7.2"): ("protocol", "2.7.2"), ("sdk", "7.3"): ("protocol", "2.7.3"), ("sdk", "7.4"): ("protocol", "2.7.4"),
    ("sdk", "7.5"): ("protocol", "2.7.5"), ("sdk", "7.6"): ("protocol", "2.7.6"), ("sdk", "7.7"): ("protocol", "2.7.7"),
    ("sdk", "7.8"): ("protocol", "2.7.8"), ("sdk", "7.9"): ("protocol", "2.7.9"), ("sdk", "7.10"): ("protocol", "2.7.10"),
    ("sdk", "8"): ("protocol", "2.8"),
    # service.md -> part 3 of docs/protocol.md
    ("service", "0"): ("protocol", "3.0"), ("service", "1"): ("protocol", "3.1"), ("service", "1.1"): ("protocol", "3.1.1"),
    ("service", "1.2"): ("protocol", "3.1.2"), ("service", "1.3"): ("protocol", "3.1.3"), ("service", "1.4"): ("protocol", "3.1.4"),
    ("service", "1.5"): ("protocol", "3.1.5"), ("service", "1.6"): ("protocol", "3.1.6"), ("service", "1.7"): ("protocol", "3.1.7"),
    ("service", "1.8"): ("protocol", "3.1.8"), ("service", "1.9"): ("protocol", "3.1.9"), ("service", "1.10"): ("protocol", "3.1.10"),
    ("service", "2"): ("protocol", "3.2"), ("service", "2.1"): ("protocol", "3.2.1"), ("service", "2.2"): ("protocol", "3.2.2"),
    ("service", "3"): ("protocol", "3.3"), ("service", "3.1"): ("protocol", "3.3.1"), ("service", "3.2"): ("protocol", "3.3.2"),
    ("service", "3.3"): ("protocol", "3.3.3"), ("service", "3.4"): ("protocol", "3.3.4"), ("service", "3.5"): ("protocol", "3.3.5"),
    ("service", "4"): ("protocol", "3.4"), ("service", "5"): ("protocol", "3.5"), ("service", "6"): ("protocol", "3.6"),
    ("service", "6.1"): ("protocol", "3.6.1"), ("service", "6.2"): ("protocol", "3.6.2"), ("service", "6.2.1"): ("protocol", "3.6.2.1"),
    ("service", "6.2.2"): ("protocol", "3.6.2.2"), ("service", "6.2.3"): ("protocol", "3.6.2.3"), ("service", "6.2.4"): ("protocol", "3.6.2.4"),
    ("service", "6.2.5"): ("protocol", "3.6.2.5"), ("service", "6.2.6"): ("protocol", "3.6.2.6"), ("service", "6.2.7"): ("protocol", "3.6.2.7"),
    ("service", "6.2.8"): ("protocol", "3.6.2.8"), ("service", "6.2.9"): ("protocol", "3.6.2.9"), ("service", "6.2.10"): ("protocol", "3.6.2.10"),
    ("service", "6.2.11"): ("protocol", "3.6.2.11"), ("service", "6.2.12"): ("protocol", "3.6.2.12"), ("service", "7"): ("protocol", "3.7"), ("service", "A"): ("protocol", "3.A"),
    ("service", "B"): ("protocol", "3.B"),
}

# A note named without a section -> the page (and part) that restates it.
PAGE_MAP = {
    "DESIGN": ("architecture", None),
    "core": ("protocol", "1"),
    "sdk": ("protocol", "2"),
    "service": ("protocol", "3"),
}

# `service.md I3`: the service invariants I1..I14 keep their numbers in docs/protocol.md §3.6.1.
INVARIANT_SECTION = {"service": ("protocol", "3.6.1")}

# Whole phrases that point at the notes' folder rather than a section.
PHRASES = [
    ("the PR discussion in shared/seeds/001",
     "the PR review thread restated in docs/protocol.md \u00a73.2.2"),
    ("; seed 001)", ")"),
    ("shared/protocol/", ""),
    ("core.md migration 14 down", "docs/protocol.md \u00a71.1.2, migration 14 down"),
    ("The review's worry (seed 003)", "The worry of core PR #112's review"),
]

SKIP_DIRS = {".git", "build", "docs", "node_modules"}
SKIP_FILES = {"tools/rewrite-citations.py", "tests/docs_test.sh", "tests/rewrite_citations_test.py"}
TEXT_EXT = (".cpp", ".hpp", ".h", ".c", ".json", ".sh", ".txt", ".cmake", ".md", ".html",
            ".py", ".js", ".mjs", ".yml", ".yaml", ".toml", ".in")

NOTE = r"\b(?P<note>DESIGN|core|sdk|service)\.md"
SEC = r"(?:[0-9]+(?:\.[0-9]+)*|[A-Z])"
SIGN = r"(?:\u00a7|\\u00a7)"
# One section reference: `§3.6`, `§ 3.6`, `§1.3–1.4`, `§1.5-1.9`, or `Appendix A`.
REF = (r"(?:(?P<sign>" + SIGN + r")\s?(?P<sec>" + SEC + r")(?:(?P<dash>[\u2013-])(?P<end>" + SEC +
       r")(?![0-9]))?|Appendix (?P<app>[A-Z])\b)")
REF_RE = re.compile(REF)
SEP = r"(?:,\s*|;\s*|\s+and\s+|\s*/\s*|\s+)"
# A note followed by its references (possibly none), e.g. `service.md §1.2, §1.7`.
GROUP_RE = re.compile(NOTE + r"(?P<refs>(?:" + SEP + r"(?:" + SIGN + r"\s?" + SEC +
                      r"(?:[\u2013-]" + SEC + r"(?![0-9]))?|Appendix [A-Z]\b))*)(?P<inv>\s+I[0-9]+\b)?")
NEW_RE = re.compile(r"\bdocs/(?:protocol|architecture|invariants|faults|scenarios|reports|cli|"
                    r"performance|findings)\.md")
BARE_RE = re.compile(r"(?<![\w.])(?P<sign>" + SIGN + r")(?P<sec>[0-9]+(?:\.[0-9]+)*)"
                     r"(?:(?P<dash>[\u2013-])(?P<end>[0-9]+(?:\.[0-9]+)*)(?![0-9]))?")


class Unmapped(Exception):
    pass


def lookup(note, sec):
    """(page, new section) for a section of a note; a missing subsection falls back to its parent."""
    s = sec
    while True:
        if (note, s) in SECTION_MAP:
            return SECTION_MAP[(note, s)]
        if "." not in s:
            raise Unmapped(f"{note}.md \u00a7{sec}")
        s = s.rsplit(".", 1)[0]


def render_refs(note, refs_text):
    """Rewrites a group's references; returns a list of (page, text) pieces in order."""
    pieces = []  # (page, rewritten text including its leading separator)
    pos = 0
    for m in REF_RE.finditer(refs_text):
        lead = refs_text[pos:m.start()]
        pos = m.end()
        if m.group("app"):
            page, new = lookup(note, m.group("app"))
            sign = "\u00a7"
            text = f"{sign}{new}"
        else:
            sign = m.group("sign")
            page, new = lookup(note, m.group("sec"))
            text = f"{sign}{new}"
            if m.group("end"):
                end = m.group("end")
                # `§1.3–1.4`: the end shares the start's note; `§3.1–3` style short ends are rare.
                if "." not in end and "." in m.group("sec"):
                    end = m.group("sec").rsplit(".", 1)[0] + "." + end
                epage, enew = lookup(note, end)
                text += m.group("dash") + enew
        pieces.append((page, lead, text))
    return pieces, refs_text[pos:]


def rewrite_group(m, continued=False):
    """`continued`: the note ends its line and the next line starts with its sections."""
    note = m.group("note")
    refs = m.group("refs") or ""
    pieces, rest = render_refs(note, refs)
    inv = m.group("inv")
    if not pieces and continued and not inv:
        # the bare sections on the next line are rewritten (in full for DESIGN.md's pages)
        return "docs/protocol.md" if note != "DESIGN" else ""
    if not pieces:
        if inv and note in INVARIANT_SECTION:
            page, sec = INVARIANT_SECTION[note]
            return f"docs/{page}.md \u00a7{sec}{inv}"
        page, sec = PAGE_MAP[note]
        return f"docs/{page}.md" + (f" \u00a7{sec}" if sec else "") + rest + (inv or "")
    out = []
    current = None
    for page, lead, text in pieces:
        if page != current:
            # A new page: name it (the first lead separates the note from its first reference).
            if current is None:
                out.append(f"docs/{page}.md" + (lead if lead.strip() == "" else " "))
            else:
                out.append(lead + f"docs/{page}.md ")
            current = page
        else:
            out.append(lead)
        out.append(text)
    # keep whatever the old sign was (`\u00a7` escapes in JSON stay escapes)
    return "".join(out) + rest + (inv or "")


def citations_in(lines):
    """Per line: the last note named on it (old) or 'new' for a docs/ citation; for bare refs."""
    marks = []
    for line in lines:
        last = None
        for m in re.finditer(NOTE + "|" + NEW_RE.pattern, line):
            last = m.group("note") or "new"
        marks.append(last)
    return marks


def rewrite_text(text, path, changes):
    lines = text.split("\n")
    marks = citations_in(lines)
    first = next((m for m in marks if m), None)
    if first is None:
        return text
    context = first
    out_lines = []
    for i, line in enumerate(lines):
        old_line = line
        for a, b in PHRASES:
            line = line.replace(a, b)
        # bare references first (they are resolved against the context before this line's own
        # citations, which then change the context for the following lines)
        line = rewrite_bare(line, context, path, i + 1, changes)
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        continues = re.match(r"^[\s/#*]*" + SIGN, nxt) is not None
        end = len(line.rstrip())
        before = line
        line = GROUP_RE.sub(lambda g: rewrite_group(g, continues and g.end() == end), line)
        if continues and line != before:
            line = line.rstrip(" ")  # a DESIGN.md that moved to the next line leaves no blank
        if marks[i]:
            context = marks[i]
        if line != old_line:
            changes.append((path, i + 1, old_line.strip(), line.strip()))
        out_lines.append(line)
    return "\n".join(out_lines)


def rewrite_bare(line, context, path, lineno, changes):
    """Renumbers references not preceded by a note name on this line."""
    if context in (None, "new"):
        return line
    out = []
    pos = 0
    # spans of grouped (explicit) citations on this line are left to GROUP_RE
    spans = [(m.start(), m.end()) for m in GROUP_RE.finditer(line)]
    spans += [(m.start(), m.end() + 40) for m in NEW_RE.finditer(line)]
    # a bare reference that continues a new-style citation (`docs/x.md §1, §2`) is not bare
    for m in BARE_RE.finditer(line):
        if any(a <= m.start() < b for a, b in spans):
            continue
        # refs that follow a note mentioned earlier on the same line belong to that note
        note = context
        before = line[:m.start()]
        named = [n for n in re.finditer(NOTE + "|" + NEW_RE.pattern, before)]
        if named:
            last = named[-1]
            if last.group("note") is None:
                continue  # follows a docs/ citation: already new
            note = last.group("note")
        try:
            page, new = lookup(note, m.group("sec"))
        except Unmapped:
            continue
        text = m.group("sign") + new
        if m.group("end"):
            end = m.group("end")
            if "." not in end and "." in m.group("sec"):
                end = m.group("sec").rsplit(".", 1)[0] + "." + end
            try:
                text += m.group("dash") + lookup(note, end)[1]
            except Unmapped:
                continue
        if page != "protocol" or note == "DESIGN":
            text = f"docs/{page}.md {text}"
        out.append(line[pos:m.start()])
        out.append(text)
        pos = m.end()
    out.append(line[pos:])
    return "".join(out)


def files(root):
    try:
        listed = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                                 "--exclude-standard"],
                                capture_output=True, check=True).stdout.decode().split("\0")
        paths = [p for p in listed if p]
    except (OSError, subprocess.CalledProcessError):
        paths = []
        for d, dirs, fs in os.walk(root):
            dirs[:] = sorted(x for x in dirs if x not in SKIP_DIRS)
            for f in sorted(fs):
                paths.append(os.path.relpath(os.path.join(d, f), root))
    for p in sorted(paths):
        parts = p.split("/")
        if parts[0] in SKIP_DIRS or p in SKIP_FILES:
            continue
        if not (p.endswith(TEXT_EXT) or os.path.basename(p) == "CMakeLists.txt"):
            continue
        yield p


def main(argv):
    check = "--check" in argv
    args = [a for a in argv if a != "--check"]
    root = args[0] if args else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    changes = []
    errors = []
    touched = 0
    for rel in files(root):
        full = os.path.join(root, rel)
        try:
            with open(full, encoding="utf-8") as f:
                text = f.read()
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        try:
            new = rewrite_text(text, rel, changes)
        except Unmapped as e:
            errors.append(f"{rel}: no docs/ section for {e}")
            continue
        if new != text:
            touched += 1
            if not check:
                with open(full, "w", encoding="utf-8") as f:
                    f.write(new)
    for path, line, old, new in changes:
        print(f"{path}:{line}: {old}\n    -> {new}")
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    verb = "would change" if check else "changed"
    print(f"rewrite-citations: {verb} {len(changes)} lines in {touched} files")
    if errors:
        return 2
    return 1 if (check and changes) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
