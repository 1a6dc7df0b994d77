#!/usr/bin/env bash
# The reports in headless Chromium, in ONE launch (issue 20 (e): a launch is ~1 CPU-s and 3-5 s
# of wall here; docs/performance-ci.md "Quick suite toward 60 s (quick20)").  One page holds
# each check's page in a frame of the size its check needs and copies what the check reads
# into its own DOM, which --dump-dom prints; the checks are those of the former
# html_report_test.sh, first_screen_test.sh (twice) and mermaid_test.sh:
#  html:    an HTML report (request-hiding-lag, seeds 1..2) loads without console errors (no
#           script, no blocked fetch; the whole launch must log none) and contains its SVG
#           sequence diagram, timeline and metric chart;
#  first screen (issue 18): `syncsim report --compare` of request-interval-lag-postgres vs
#           -mongo (seeds 1..3), and the committed example reports/examples/request-interval-
#           lag.html: the headline and a distribution plot lie inside the first screen of a
#           1400x900 window (its viewport, 1400x757, is the frame's size).  The report forbids scripts (CSP), so
#           a copy without the CSP meta gets a measuring script appended at the end of <body>,
#           after everything it measures; the layout is the report's;
#  mermaid: every Mermaid block of three generated Markdown reports (request-hiding-lag, a
#           lifecycle scenario, basic) and of the REPORT.md files given (the committed
#           examples) parses and renders with the pinned mermaid at most MERMAID_MAX_WIDTH px
#           wide (default 2200: basic renders 2 087; 4 927 before labels were bounded, and
#           GitHub scales wider diagrams down until their text is unreadable).
# The screenshot (for people, 1400x900) shows the example's first screen, the top frame:
# build/report-checks/chromium/page.png.
# Usage: reports_in_chromium.sh SYNCSIM SOURCE_DIR OUT_DIR MERMAID_JS [REPORT.md ...]
set -uo pipefail
syncsim="$1" src="$2" out="$3" mermaid_js="$4"
shift 4
here="$(dirname "$0")"
source "$here/chromium.sh"
[[ -f "$mermaid_js" ]] || { echo "FAIL: pinned mermaid not found at $mermaid_js (re-run cmake)"; exit 1; }
rm -rf "$out" && mkdir -p "$out"
"$syncsim" report "$src/scenarios/catalog/request-hiding-lag.json" --seeds 1..2 --format html \
  --out "$out/report.html" || { echo "FAIL: syncsim report exited $?"; exit 1; }
"$syncsim" report --compare "$src/scenarios/catalog/request-interval-lag-postgres.json" \
  "$src/scenarios/catalog/request-interval-lag-mongo.json" --seeds 1..3 --format html \
  --out "$out/compare.html" || { echo "FAIL: syncsim report --compare exited $?"; exit 1; }
reports=("$@")
for name in request-hiding-lag downgrade basic; do
  "$syncsim" report "$src/scenarios/catalog/$name.json" --seeds 1..2 --format md \
    --out "$out/$name.md" || { echo "FAIL: syncsim report $name exited $?"; exit 1; }
  reports+=("$out/$name.md")
done
python3 "$here/reports_in_chromium_pages.py" "$out" "$mermaid_js" "${MERMAID_MAX_WIDTH:-2200}" \
  "$src/reports/examples/request-interval-lag.html" "${reports[@]}" || exit 1
chromium_headless --enable-logging=stderr --v=0 --window-size=1400,900 \
  --virtual-time-budget=30000 --dump-dom --screenshot="$out/page.png" "file://$out/page.html" \
  > "$out/dom.html" 2> "$out/chromium.log"
rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: chromium exited $rc"; tail -20 "$out/chromium.log"; exit 1; }
python3 "$here/reports_in_chromium_pages.py" --check "$out/dom.html" "${MERMAID_MAX_WIDTH:-2200}" \
  || { tail -20 "$out/chromium.log"; exit 1; }
# Console messages (errors, CSP refusals) are logged as CONSOLE lines or "Refused to".
if grep -E 'CONSOLE|Refused to|Uncaught' "$out/chromium.log"; then
  echo "FAIL: a page logged errors (above)"; exit 1
fi
[[ -s "$out/page.png" ]] || { echo "FAIL: no screenshot written"; tail -20 "$out/chromium.log"; exit 1; }
echo "OK: reports checked in one Chromium launch; screenshot $out/page.png"
