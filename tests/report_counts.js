// For every chart of the report, every trace: what was given to plotly (points with a value) and
// what is on the page (SVG elements drawn for that trace). Evaluated in the page by test_report_browser.py.
(() => {
  const finite = a => a ? Array.from(a).filter(v => v !== null && v !== undefined && !(typeof v === 'number' && isNaN(v))).length : 0;
  const out = {};
  document.querySelectorAll('div.chart').forEach(gd => {
    const traces = gd._fullData.map(t => {
      const given = t.type === 'heatmap' ? t.z.flat().filter(v => v !== null && !isNaN(v)).length
                  : t.type === 'candlestick' ? finite(t.close)
                  : t.orientation === 'h' ? finite(t.x) : finite(t.y);
      return {name: t.name, type: t.type, mode: t.mode || '', given: given, drawn: 0};
    });
    gd.querySelectorAll('g.trace').forEach(g => {
      const d = g.__data__ && g.__data__[0] && g.__data__[0].trace;
      if (!d) return;
      const row = traces[d.index];
      if (d.type === 'candlestick') row.drawn = g.querySelectorAll('path.box').length;
      else if (d.type === 'bar') row.drawn = Array.from(g.querySelectorAll('g.point path')).filter(p => (p.getAttribute('d') || 'M0,0Z') !== 'M0,0Z').length;
      else if (d.type === 'scatter' && row.mode.includes('markers')) row.drawn = g.querySelectorAll('path.point').length;
      else if (d.type === 'scatter') {
        const path = Array.from(g.querySelectorAll('path.js-line')).map(p => p.getAttribute('d') || '').join('');
        row.drawn = (d.line && d.line.shape === 'hv') ? (path.match(/H/g) || []).length + (path.match(/M/g) || []).length
                                                       : (path.match(/[ML]/g) || []).length;
      }
    });
    gd.querySelectorAll('g.hm').forEach(h => {
      const d = h.__data__ && h.__data__[0] && h.__data__[0].trace;
      if (d) traces[d.index].drawn = h.querySelectorAll('g.textpoint text, text').length;
    });
    out[gd.id] = traces;
  });
  return out;
})()
