"""The HTML report (`cryptotrain report`): one self-contained file drawn from plain data.

page.py holds the page (the plotly.js bundle inlined once, the figures as JSON, linked time axes,
sortable tables); arrays.py how arrays travel into it; one module per kind of section (run_sections,
eval_sections, walkforward_sections, sweep_sections); build.py puts a report kind together. A new
kind of section (a universe's weights, per-pair contribution) is another module whose functions
take plain data and add to a `Page`.
"""
