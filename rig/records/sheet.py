"""The code-request sheet a technician hands on: one printable page from a run's ``sheet`` step.

The seed's "get a new passcode" and "contact your dealer" both end with a person asking
someone else for the code, with the unit's serial, its model and the car's VIN in hand. A
run's ``sheet:`` step puts those on record (an event in its log); this draws them as an A4
page with the date, and fields for the shop and the customer left to fill in (on screen
before printing, or by hand on the paper). It is written beside the run's log
(``run-NNNNN-NAME.sheet.html``), served at ``/api/runs/N/sheet.html`` and linked from
the run's page and ``rig report``. A browser's "Print" (or "Save as PDF") gives the paper.

It never holds a code: it is drawn from the run's log, where the code is masked, and it
has no field for one (the dealer's answer goes to the technician, not onto a sheet that
travels with the unit).

>>> ev = {"kind": "sheet", "what": "Radio code request", "rows": [["unit (bench label)", "VW1"], ["VIN", "WVW<1>"]]}
>>> html = render_sheet(ev, {"id": 4, "serial": "VW1"}, when=0)
>>> "Radio code request" in html and "WVW&lt;1&gt;" in html and "<script" not in html
True
"""

from __future__ import annotations

import time
from pathlib import Path

from .xmltext import escape

CSS = """
@page { size: A4; margin: 18mm 16mm; }
* { box-sizing: border-box; }
body { font: 12pt/1.45 system-ui, sans-serif; color: #000; background: #fff; max-width: 180mm; margin: 1.5em auto;
       padding: 0 1em; }
h1 { font-size: 18pt; margin: 0 0 .2em; } h2 { font-size: 12pt; margin: 1.2em 0 .3em; text-transform: uppercase;
       letter-spacing: .05em; border-bottom: 2px solid #000; }
p.lead { margin: .2em 0 1em; }
table { width: 100%; border-collapse: collapse; }
th { width: 38%; text-align: left; font-weight: normal; color: #333; padding: .45em .6em .2em 0; vertical-align: bottom; }
td { padding: .45em 0 .2em; border-bottom: 1px solid #000; font-weight: 600; vertical-align: bottom; }
td.fill { font-weight: normal; min-height: 1.6em; }
td.fill:empty::after { content: "\\00a0"; }
.mono { font-family: ui-monospace, monospace; letter-spacing: .04em; }
.hint { font-size: 9.5pt; color: #333; font-weight: normal; }
footer { margin-top: 2em; font-size: 9pt; color: #444; border-top: 1px solid #999; padding-top: .4em; }
.screen { background: #fff8d6; border: 1px solid #e0c96b; padding: .4em .7em; font-size: 10pt; }
@media print { .screen { display: none; } body { margin: 0; max-width: none; padding: 0; font-size: 11pt; }
               h2 { margin-top: .9em; } a { color: #000; } }
"""

MONO = {"unit (bench label)", "serial shown / read", "VIN"}  # read aloud or typed by someone else: one glyph each


def sheet_path(log_path) -> Path:
    """Where a run's sheet is, beside its log: ``run-00007-read-serial.sheet.html``."""
    return Path(log_path).with_suffix(".sheet.html")


def last_sheet(events: list[dict]) -> dict | None:
    """The run's (last) ``sheet`` event, or None: a run with no sheet step has no sheet."""
    return next((e for e in reversed(events) if e.get("kind") == "sheet"), None)


def render_sheet(event: dict, run: dict, when: float | None = None, css_href: str | None = None) -> str:
    """The sheet's page. ``run``: the ledger's row (id, serial); ``when``: the date printed on it
    (the run's end; now if None); ``css_href``: a stylesheet to link (a server whose
    Content-Security-Policy allows no inline style) instead of the CSS inline."""
    rows = [(str(k), "" if v is None else str(v)) for k, v in (event.get("rows") or [])]
    title = str(event.get("what") or "Code request")
    car = [r for r in rows if r[0] == "VIN"]
    radio = [r for r in rows if r[0] != "VIN"]
    date = time.strftime("%Y-%m-%d", time.localtime(time.time() if when is None else when))

    def given(pairs):
        return "".join(f'<tr><th>{escape(k)}</th><td class="{"mono" if k in MONO else ""}">{escape(v)}</td></tr>'
                       for k, v in pairs)

    def blank(*names):  # typed in on screen before printing, or written on the paper
        return "".join(f'<tr><th>{escape(n)}</th><td class="fill" contenteditable="true"></td></tr>' for n in names)

    # on a server: its stylesheet and icon (its CSP allows no inline style); a file: the CSS inline
    head = (f'<link rel="icon" href="/static/favicon.svg"><link rel="stylesheet" href="{escape(css_href)}">'
            if css_href else f"<style>{CSS}</style>")
    ref = f"rig run {run.get('id')}" + (f", unit {run.get('serial')}" if run.get("serial") else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}: {escape(str(run.get('serial') or ''))}</title>{head}</head>
<body class="sheet">
<p class="screen">Fill in the shop and customer lines here or by hand, then print this page (or save it as PDF).</p>
<h1>{escape(title)}</h1>
<p class="lead">Please supply the anti-theft code for the radio below. It is on the bench, out of the car.</p>
<table><tr><th>date</th><td>{date}</td></tr></table>
<h2>Shop</h2>
<table>{blank("shop", "address and phone", "technician")}</table>
<h2>Customer</h2>
<table>{blank("name", "phone", "proof of ownership seen (registration, invoice)")}</table>
<h2>The car</h2>
<table>{given(car) or blank("VIN")}{blank("make, model, year", "registration")}</table>
<h2>The radio</h2>
<table>{given(radio)}</table>
<footer>{escape(ref)}. No code is written on this sheet, ever: the dealer's answer goes to the technician,
not onto paper that travels with the unit.</footer>
</body></html>
"""


def write_sheet(log_path, run: dict) -> Path | None:
    """Draw the sheet of the run whose log is ``log_path`` beside it (0640, never through a link);
    its path, or None when the run had no sheet step."""
    from .files import write_new
    from .report import read_events

    event = last_sheet(read_events(log_path))
    if event is None:
        return None
    return write_new(sheet_path(log_path), render_sheet(event, run, when=Path(log_path).stat().st_mtime))
