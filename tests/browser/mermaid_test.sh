#!/usr/bin/env bash
# Renders every Mermaid block of a Markdown report with the pinned mermaid (from the
# configure-time cache, loaded from disk) in headless Chromium; a block that fails to parse
# or render, or renders wider than MERMAID_MAX_WIDTH px (default 2200: basic renders 2 087, downgrade 1 931, request-hiding-lag 1 900; 4 927 before labels were bounded: GitHub scales wider
# diagrams down until their text is unreadable), fails the test.
# Usage: mermaid_test.sh SYNCSIM SOURCE_DIR OUT_DIR MERMAID_JS [REPORT.md ...]
# The three generated reports below are always checked, the REPORT.md files (the committed
# examples) in the same page: one Chromium launch, ~3 s of wall here, instead of two (perf10).
set -uo pipefail
syncsim="$1" src="$2" out="$3" mermaid_js="$4"
shift 4
source "$(dirname "$0")/chromium.sh"
[[ -f "$mermaid_js" ]] || { echo "FAIL: pinned mermaid not found at $mermaid_js (re-run cmake)"; exit 1; }
mkdir -p "$out"
reports=("$@")
# Request hiding, a lifecycle scenario (faults and reopens on the client lanes), and a
# 60 s, 3-client run (basic).
for name in request-hiding-lag downgrade basic; do
  "$syncsim" report "$src/scenarios/catalog/$name.json" --seeds 1..2 --format md \
    --out "$out/$name.md" || { echo "FAIL: syncsim report $name exited $?"; exit 1; }
  reports+=("$out/$name.md")
done
# The blocks go into the page as JSON strings (python3 escapes them), one test page in all.
python3 - "$out/mermaid.html" "$mermaid_js" "${MERMAID_MAX_WIDTH:-2200}" "${reports[@]}" <<'PY' || exit 1
import json, re, sys
page, js, max_width, *files = sys.argv[1:]
blocks = []
for f in files:
    blocks += [(f, b) for b in re.findall(r"```mermaid\n(.*?)```", open(f, encoding="utf-8").read(), re.S)]
if not blocks:
    sys.exit("FAIL: no mermaid block in " + ", ".join(files))
open(page, "w", encoding="utf-8").write(f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<script src="file://{js}"></script></head><body><pre id="result">PENDING</pre><div id="out"></div>
<script>
const blocks = {json.dumps([b for _, b in blocks])};
const names = {json.dumps([f for f, _ in blocks])};
(async () => {{
  const lines = [];
  try {{
    mermaid.initialize({{startOnLoad: false, securityLevel: 'strict'}});
    for (let i = 0; i < blocks.length; i++) {{
      try {{
        await mermaid.parse(blocks[i]);
        const r = await mermaid.render('d' + i, blocks[i]);
        document.getElementById('out').insertAdjacentHTML('beforeend', r.svg);
        const m = /max-width:\s*([0-9.]+)px/.exec(r.svg);
        const width = m ? Math.round(parseFloat(m[1])) : -1;
        if (width < 0 || width > {max_width}) {{
          lines.push('FAIL ' + i + ' ' + names[i] + ': rendered ' + width + ' px wide, more than {max_width}');
        }} else {{
          lines.push('OK ' + i + ' ' + names[i] + ' (' + width + ' px wide)');
        }}
      }} catch (e) {{
        lines.push('FAIL ' + i + ' ' + names[i] + ': ' + (e && e.message ? e.message : e));
      }}
    }}
  }} catch (e) {{ lines.push('FAIL setup: ' + e); }}
  document.getElementById('result').textContent = lines.join('\\n') + '\\nDONE';
}})();
</script></body></html>""")
print(f"{len(blocks)} mermaid block(s)")
PY
chromium_headless --virtual-time-budget=30000 --dump-dom "file://$out/mermaid.html" \
  > "$out/mermaid-dom.html" 2> "$out/mermaid-chromium.log"
result="$(python3 -c 'import re,sys,html; m=re.search(r"<pre id=\"result\">(.*?)</pre>", open(sys.argv[1]).read(), re.S); print(html.unescape(m.group(1)) if m else "NO RESULT")' "$out/mermaid-dom.html")"
echo "$result"
[[ "$result" == *DONE* ]] || { echo "FAIL: mermaid did not finish"; tail -20 "$out/mermaid-chromium.log"; exit 1; }
[[ "$result" != *FAIL* ]] || { echo "FAIL: a mermaid block failed to render"; exit 1; }
grep -q '<svg' "$out/mermaid-dom.html" || { echo "FAIL: no rendered SVG"; exit 1; }
echo "OK: every mermaid block rendered"
