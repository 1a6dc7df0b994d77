#!/usr/bin/env bash
# The reviewer's question (issue 18) answered on the first screen: `syncsim report --compare`
# of request-interval-lag-postgres vs -mongo, loaded in headless Chromium at 1400x900; the
# headline and a distribution plot must lie inside the first viewport (not merely in the page).
# The report forbids scripts (CSP), so a copy without the CSP meta gets a measuring script
# appended at the end of <body>, after everything it measures; the layout is the report's.
# Usage: first_screen_test.sh SYNCSIM SOURCE_DIR OUT_DIR [REPORT.html]
set -uo pipefail
syncsim="$1" src="$2" out="$3" report="${4:-}"
source "$(dirname "$0")/chromium.sh"
mkdir -p "$out"
if [[ -z "$report" ]]; then
  report="$out/compare.html"
  "$syncsim" report --compare "$src/scenarios/catalog/request-interval-lag-postgres.json" \
    "$src/scenarios/catalog/request-interval-lag-mongo.json" --seeds 1..3 --format html \
    --out "$report" || { echo "FAIL: syncsim report --compare exited $?"; exit 1; }
fi
python3 - "$report" "$out/measure.html" <<'PY' || exit 1
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
script = """<script>
const box = (sel) => { const e = document.querySelector(sel); if (!e) return null;
  const r = e.getBoundingClientRect(); return [Math.round(r.left), Math.round(r.top), Math.round(r.right), Math.round(r.bottom)]; };
const result = {viewport: [window.innerWidth, window.innerHeight],
  headline: box('section.headline'), plot: box('svg.cdf')};
const pre = document.createElement('pre'); pre.id = 'measured'; pre.textContent = JSON.stringify(result);
document.body.appendChild(pre);
</script>"""
if "</body>" not in page:
    sys.exit("FAIL: no </body> in the report")
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("</body>", script + "</body>"))
PY
# One launch (issue 20 (e)): the measured DOM and the screenshot (of the measured copy, laid
# out as the report; the measurement is appended after the end of the page) from one load.
rm -f "$out/first-screen.png"
chromium_headless --window-size=1400,900 --dump-dom --screenshot="$out/first-screen.png" \
  "file://$out/measure.html" > "$out/measure-dom.html" 2> "$out/chromium.log"
python3 - "$out/measure-dom.html" <<'PY' || exit 1
import html, json, re, sys
m = re.search(r'<pre id="measured">(.*?)</pre>', open(sys.argv[1], encoding="utf-8").read(), re.S)
if not m:
    sys.exit("FAIL: the measuring script did not run")
r = json.loads(html.unescape(m.group(1)))
print("measured:", r)
w, h = r["viewport"]
if (w, h) != (1400, 900):
    print(f"note: viewport is {w}x{h}")
for name in ("headline", "plot"):
    b = r[name]
    if b is None:
        sys.exit(f"FAIL: no {name} in the report")
    left, top, right, bottom = b
    if top < 0 or left < 0 or bottom > h or right > w:
        sys.exit(f"FAIL: the {name} ({b}) is not inside the first {w}x{h} viewport")
print("OK: the headline and a distribution plot lie inside the first viewport")
PY
# The screenshot is for people; the measurement above is the check.
if [[ -s "$out/first-screen.png" ]]; then echo "screenshot: $out/first-screen.png"; else echo "note: no screenshot written"; fi
