#!/usr/bin/env bash
# Renders an HTML report in headless Chromium: the page must load without console errors
# (no script, no blocked fetch) and contain the SVG sequence diagram; writes a screenshot.
# Usage: html_report_test.sh SYNCSIM SOURCE_DIR OUT_DIR
set -uo pipefail
syncsim="$1" src="$2" out="$3"
source "$(dirname "$0")/chromium.sh"
mkdir -p "$out"
report="$out/report.html"
"$syncsim" report "$src/scenarios/catalog/request-hiding-lag.json" --seeds 1..2 --format html \
  --out "$report" || { echo "FAIL: syncsim report exited $?" >&2; exit 1; }
# One launch (issue 20 (e)): the DOM and the screenshot come from the same page load.
rm -f "$out/report.png"
chromium_headless --enable-logging=stderr --v=0 --window-size=1400,2400 --dump-dom \
  --screenshot="$out/report.png" "file://$report" > "$out/dom.html" 2> "$out/chromium.log"
rc=$?
[[ $rc -eq 0 ]] || { echo "FAIL: chromium --dump-dom exited $rc"; tail -20 "$out/chromium.log"; exit 1; }
grep -q '<svg class="sequence"' "$out/dom.html" || { echo "FAIL: no SVG sequence diagram in the loaded page"; exit 1; }
grep -q '<svg class="states"' "$out/dom.html" || { echo "FAIL: no timeline SVG in the loaded page"; exit 1; }
grep -q '<svg class="chart"' "$out/dom.html" || { echo "FAIL: no metric chart in the loaded page"; exit 1; }
# Console messages (errors, CSP refusals) are logged as CONSOLE lines or "Refused to".
if grep -E 'CONSOLE|Refused to|Uncaught' "$out/chromium.log"; then
  echo "FAIL: the page logged errors (above)"; exit 1
fi
[[ -s "$out/report.png" ]] || { echo "FAIL: no screenshot written"; tail -20 "$out/chromium.log"; exit 1; }
echo "OK: page loaded, SVG present; screenshot $out/report.png"
