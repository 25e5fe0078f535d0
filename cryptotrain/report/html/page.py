"""One self-contained HTML page: every script and style inline, nothing fetched when it opens.

A `Page` collects sections of HTML and figures (plotly figure dicts of plain data); `html()`
writes the plotly.js bundle once (plotly's own offline copy, package_data/plotly.min.js), the
figures as JSON and a small script that draws them, links the time axes of the figures in one
`link` group (zoom one, all follow) and sorts a `sortable` table by the column clicked.
`window.reportReady` is set when every figure has drawn (the browser tests wait for it).
"""

from __future__ import annotations

import html
import json
import math
import pkgutil
from typing import Any

COLORS = {"model": "#1f77b4", "long": "#2ca02c", "short": "#d62728", "neutral": "#7f7f7f",
          "benchmarks": ["#7f7f7f", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#bcbd22"]}

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0 auto;max-width:1500px;
padding:12px 24px;color:#222;background:#fff}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:26px 0 6px;border-bottom:1px solid #ddd}
p.note{color:#555;font-size:13px;margin:4px 0 8px}ul.verdict{font-size:14px;line-height:1.45}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
th,td{padding:3px 8px;border-bottom:1px solid #eee;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4;position:sticky;top:0}
table.sortable th{cursor:pointer}table.sortable th[aria-sort]::after{content:attr(data-arrow)}
div.scroll{max-height:480px;overflow:auto;border:1px solid #eee;display:inline-block}
dl.prov{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:13px}
dl.prov dt{color:#555}dl.prov dd{margin:0;font-family:monospace;word-break:break-all}
div.grid{display:flex;flex-wrap:wrap;gap:12px}div.grid>div{flex:1 1 460px;min-width:420px}
img.figure{max-width:100%}
"""

_SCRIPT = r"""
(function(){
const figs = JSON.parse(document.getElementById('figures').textContent);
const config = {responsive: true, displaylogo: false};
// value axes whose range the report set (plotly fills in the others' ranges once it draws)
figs.forEach(f => { f.fixed = new Set(Object.keys(f.fig.layout).filter(k => /^yaxis\d*$/.test(k) && f.fig.layout[k].range !== undefined)); });
const drawn = figs.map(f => Plotly.newPlot(f.id, f.fig.data, f.fig.layout, config));
const toMs = v => { if (typeof v === 'number') return v; const s = String(v).replace(' ', 'T'); return Date.parse(s.length > 10 ? s + 'Z' : s); };
const valueAxis = t => 'yaxis' + (t.yaxis && t.yaxis !== 'y' ? t.yaxis.slice(1) : '');
const fixed = (f, ax) => f.fixed.has(ax);
function fitY(gd, f, lo, hi) {
  const ext = {};
  gd._fullData.forEach(t => {
    const ax = valueAxis(t);
    if (t.visible !== true || fixed(f, ax) || !t.x) return;
    const cols = t.type === 'candlestick' ? [t.low, t.high] : [t.y];
    if (!cols[0]) return;
    const e = ext[ax] || (ext[ax] = [Infinity, -Infinity]);
    if (t.type === 'bar' || t.fill === 'tozeroy') { e[0] = Math.min(e[0], 0); e[1] = Math.max(e[1], 0); }
    for (let i = 0; i < t.x.length; i++) {
      const x = toMs(t.x[i]);
      if (x < lo || x > hi) continue;
      for (const c of cols) { const v = c[i]; if (v === null || v === undefined || isNaN(v)) continue; if (v < e[0]) e[0] = v; if (v > e[1]) e[1] = v; }
    }
  });
  const update = {};
  for (const [ax, [a, b]] of Object.entries(ext)) if (a < b) { const pad = 0.05 * (b - a); update[ax + '.range'] = [a - pad, b + pad]; }
  return update;
}
function fitAll(f) {
  const update = {};
  Object.keys(f.fig.layout).filter(k => /^yaxis\d*$/.test(k) && !fixed(f, k)).forEach(k => { update[k + '.autorange'] = true; });
  return update;
}
Promise.all(drawn).then(() => {
  const groups = {};
  figs.forEach(f => { if (f.link) (groups[f.link] = groups[f.link] || []).push(f); });
  let busy = false;
  Object.values(groups).forEach(members => members.forEach(f => document.getElementById(f.id).on('plotly_relayout', ev => {
    if (busy) return;
    let range = null, reset = false, ownY = false;
    for (const [k, v] of Object.entries(ev)) {
      if (/^yaxis\d*\.range/.test(k)) ownY = true;
      const m = k.match(/^xaxis\d*\.(range(\[0\])?|autorange)$/);
      if (!m) continue;
      if (m[1] === 'autorange') reset = true;
      else if (m[1] === 'range') range = v;
      else range = [v, ev[k.replace('[0]', '[1]')]];
    }
    if (!range && !reset) return;
    busy = true;
    Promise.all(members.map(o => {
      const gd = document.getElementById(o.id);
      const update = reset ? {'xaxis.autorange': true} : {'xaxis.range': range};
      // each panel's value axes fit what the new time range shows (the one the user box-zoomed keeps its own)
      Object.assign(update, reset ? fitAll(o) : (o.id === f.id && ownY) ? {} : fitY(gd, o, toMs(range[0]), toMs(range[1])));
      return Plotly.relayout(gd, update);
    })).finally(() => { busy = false; });
  })));
  window.reportReady = true;
}).catch(err => { console.error(err); window.reportReady = 'failed'; });
document.querySelectorAll('table.sortable').forEach(table => table.querySelectorAll('th').forEach((th, col) => {
  th.addEventListener('click', () => {
    const up = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(h => h.removeAttribute('aria-sort'));
    th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
    th.dataset.arrow = up ? ' \u25b2' : ' \u25bc';
    const key = td => td.dataset.v !== undefined ? Number(td.dataset.v) : td.textContent;
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    rows.sort((a, b) => { const x = key(a.cells[col]), y = key(b.cells[col]);
      const c = typeof x === 'number' ? x - y : String(x).localeCompare(String(y));
      return up ? c : -c; });
    rows.forEach(r => body.appendChild(r));
  });
}));
})();
"""


def _finite(obj: Any) -> Any:
    """`obj` with every NaN or infinite float (in lists and dicts) as None: JSON has no NaN, and
    plotly draws None as a gap. Typed arrays are strings here and keep their NaN."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


class Page:
    """Sections and figures of one report, in order."""

    def __init__(self, title: str) -> None:
        self.title = title
        self._parts: list[str] = []
        self._figures: list[dict[str, Any]] = []

    def figure(self, fig: dict[str, Any], height: int = 320, link: str | None = None) -> str:
        """The <div> a figure is drawn into; figures sharing `link` share their x (time) range."""
        fid = f"fig{len(self._figures)}"
        layout = {"margin": {"l": 70, "r": 20, "t": 40, "b": 40}, "height": height,
                  "hovermode": "x unified" if link else "closest", "font": {"size": 12},
                  "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
                  **fig.get("layout", {})}
        self._figures.append({"id": fid, "link": link, "fig": {"data": fig["data"], "layout": layout}})
        return f'<div class="chart" id="{fid}" style="height:{height}px"></div>'

    def section(self, title: str, *blocks: str, note: str | None = None, anchor: str | None = None) -> None:
        head = f'<h2 id="{esc(anchor)}">' if anchor else "<h2>"
        self._parts.append(f"<section>{head}{esc(title)}</h2>"
                           + (f'<p class="note">{esc(note)}</p>' if note else "") + "".join(blocks) + "</section>")

    def raw(self, block: str) -> None:
        self._parts.append(block)

    def html(self) -> str:
        figures = json.dumps(_finite(self._figures), separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
        js = pkgutil.get_data("plotly", "package_data/plotly.min.js").decode("utf-8")
        return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<title>{esc(self.title)}</title><style>{_CSS}</style>"
                f"<script>{js}</script></head><body><h1>{esc(self.title)}</h1>"
                + "".join(self._parts)
                + f'<script type="application/json" id="figures">{figures}</script>'
                f"<script>{_SCRIPT}</script></body></html>\n")


class Html(str):
    """Text that is already HTML (a link made here), put into a table cell as it is."""


def table(header: list[str], rows: list[list[Any]], *, sortable: bool = False, scroll: bool = False,
          table_id: str | None = None) -> str:
    """An HTML table; a cell is text, Html, or (text, number): the number is what a sortable table sorts by."""
    def cell(c: Any) -> str:
        if isinstance(c, Html):
            return f"<td>{c}</td>"
        if isinstance(c, tuple):
            text, v = c
            v = float(v) if v is not None else float("nan")
            return f'<td data-v="{v!r}">{esc(text)}</td>' if v == v else f'<td data-v="-1e308">{esc(text)}</td>'
        return f"<td>{esc(c)}</td>"

    attrs = (' class="sortable"' if sortable else "") + (f' id="{esc(table_id)}"' if table_id else "")
    body = "".join("<tr>" + "".join(cell(c) for c in row) + "</tr>" for row in rows)
    out = f"<table{attrs}><thead><tr>{''.join(f'<th>{esc(h)}</th>' for h in header)}</tr></thead><tbody>{body}</tbody></table>"
    return f'<div class="scroll">{out}</div>' if scroll else out


def bullet_list(lines: list[str], cls: str = "verdict") -> str:
    return f'<ul class="{cls}">' + "".join(f"<li>{esc(s)}</li>" for s in lines) + "</ul>"


def definitions(pairs: dict[str, Any]) -> str:
    return '<dl class="prov">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs.items()
                                          if v is not None) + "</dl>"
