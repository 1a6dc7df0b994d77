#!/usr/bin/env python3
"""Pages and checks of reports_in_chromium.sh (one Chromium launch for every report check).

  reports_in_chromium_pages.py OUT MERMAID_JS MAX_WIDTH EXAMPLE.html REPORT.md...
      writes OUT/page.html: one frame per check, of the size the check needs; when every frame
      is done, the page copies what the checks read into <pre id="out-NAME"> elements.
  reports_in_chromium_pages.py --check DOM.html MAX_WIDTH
      checks the page as Chromium dumped it (exit 1 and a FAIL line on the first failure).
"""

import html
import json
import re
import sys

# A measuring script, appended at the end of <body> after everything it measures.
MEASURE = """<script>
const box = (sel) => { const e = document.querySelector(sel); if (!e) return null;
  const r = e.getBoundingClientRect(); return [Math.round(r.left), Math.round(r.top), Math.round(r.right), Math.round(r.bottom)]; };
const result = {viewport: [window.innerWidth, window.innerHeight],
  headline: box('section.headline'), plot: box('svg.cdf')};
const pre = document.createElement('pre'); pre.id = 'measured'; pre.textContent = JSON.stringify(result);
document.body.appendChild(pre);
</script>"""

# name -> (file, width, height): the HTML report at 1400x2400 as before; the first screens at
# the viewport a 1400x900 Chromium window gives (1400x757: its own launch measured that), so
# the check is as strict as when each report had a launch of its own.
FIRST_SCREEN = (1400, 757)
FRAMES = {
    "example": ("measure-example.html", *FIRST_SCREEN),
    "compare": ("measure-compare.html", *FIRST_SCREEN),
    "html": ("report.html", 1400, 2400),
    "mermaid": ("mermaid.html", 1400, 900),
}


def measure_copy(report, dest):
    page = open(report, encoding="utf-8").read()
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    if "</body>" not in page:
        sys.exit(f"FAIL: no </body> in {report}")
    open(dest, "w", encoding="utf-8").write(page.replace("</body>", MEASURE + "</body>"))


def mermaid_page(dest, js, max_width, files):
    blocks = []
    for f in files:
        text = open(f, encoding="utf-8").read()
        blocks += [(f, b) for b in re.findall(r"```mermaid\n(.*?)```", text, re.S)]
    if not blocks:
        sys.exit("FAIL: no mermaid block in " + ", ".join(files))
    open(dest, "w", encoding="utf-8").write(f"""<!DOCTYPE html><html><head><meta charset="utf-8">
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
        const m = /max-width:\\s*([0-9.]+)px/.exec(r.svg);
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


# The frames share the page's origin (file:, --allow-file-access-from-files), so the page
# reads their documents once each is loaded and, for mermaid, finished.
COLLECT = """<script>
const names = %s;
const doc = (n) => document.getElementById('frame-' + n).contentDocument;
const loaded = new Set();
for (const n of names) {
  document.getElementById('frame-' + n).addEventListener('load', () => { loaded.add(n); });
}
const put = (n, text) => {
  const pre = document.createElement('pre'); pre.id = 'out-' + n; pre.textContent = text;
  document.body.appendChild(pre);
};
(function poll() {
  const r = loaded.size === names.length && doc('mermaid').getElementById('result');
  if (!r || !r.textContent.includes('DONE')) { setTimeout(poll, 50); return; }
  put('html', doc('html').documentElement.outerHTML);
  for (const n of ['compare', 'example']) {
    const m = doc(n).getElementById('measured');
    put(n, m ? m.textContent : 'null');
  }
  put('mermaid', r.textContent);
  put('mermaid-svgs', String(doc('mermaid').querySelectorAll('#out svg').length));
  put('done', 'DONE');
})();
</script>"""


def write_pages(out, js, max_width, example, reports):
    measure_copy(f"{out}/compare.html", f"{out}/measure-compare.html")
    measure_copy(example, f"{out}/measure-example.html")
    mermaid_page(f"{out}/mermaid.html", js, max_width, reports)
    frames = "".join(
        f'<iframe id="frame-{n}" src="{f}" style="display:block;border:0;width:{w}px;height:{h}px">'
        "</iframe>" for n, (f, w, h) in FRAMES.items())
    open(f"{out}/page.html", "w", encoding="utf-8").write(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">'
        + frames + COLLECT % json.dumps(list(FRAMES)) + "</body></html>")


def section(dom, name):
    m = re.search(r'<pre id="out-%s">(.*?)</pre>' % re.escape(name), dom, re.S)
    return html.unescape(m.group(1)) if m else None


def check(dom_file, max_width):
    dom = open(dom_file, encoding="utf-8").read()
    if section(dom, "done") != "DONE":
        sys.exit("FAIL: the page did not finish (a frame did not load, or mermaid did not finish)")
    report = section(dom, "html") or ""
    for cls, what in (("sequence", "SVG sequence diagram"), ("states", "timeline SVG"),
                      ("chart", "metric chart")):
        if f'<svg class="{cls}"' not in report:
            sys.exit(f"FAIL: no {what} in the loaded HTML report")
    print("OK: the HTML report loaded with its SVGs")
    for name in ("compare", "example"):
        r = json.loads(section(dom, name) or "null")
        if r is None:
            sys.exit(f"FAIL: the measuring script did not run ({name})")
        print(f"measured ({name}):", r)
        w, h = r["viewport"]
        if (w, h) != FIRST_SCREEN:
            sys.exit(f"FAIL: the frame's viewport is {w}x{h}, not {FIRST_SCREEN} ({name})")
        for part in ("headline", "plot"):
            b = r[part]
            if b is None:
                sys.exit(f"FAIL: no {part} in the report ({name})")
            left, top, right, bottom = b
            if top < 0 or left < 0 or bottom > h or right > w:
                sys.exit(f"FAIL: the {part} ({b}) is not inside the first {w}x{h} viewport ({name})")
        print(f"OK: the headline and a distribution plot lie inside the first viewport ({name})")
    result = section(dom, "mermaid") or ""
    print(result)
    if "DONE" not in result:
        sys.exit("FAIL: mermaid did not finish")
    if "FAIL" in result:
        sys.exit("FAIL: a mermaid block failed to render")
    if int(section(dom, "mermaid-svgs")) == 0:
        sys.exit("FAIL: no rendered SVG")
    print(f"OK: every mermaid block rendered (at most {max_width} px wide)")


if __name__ == "__main__":
    if sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3])
    else:
        write_pages(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
