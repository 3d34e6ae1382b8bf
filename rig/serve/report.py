"""A run as one HTML page: summary, timeline picture, event log.

The same page serves two readers. ``rig report RUN -o FILE.html`` writes it
self-contained (CSS and SVG inline, no script needed to read it) for a ticket
or a CI artifact; the server shows it with its stylesheet and a small script
that filters the event table, because its Content-Security-Policy allows no
inline style or script.

>>> run = {"id": 3, "procedure": "unlock", "serial": "VW1", "profile": "vw-safe", "backend": "sim",
...        "started": 0, "ended": 5, "outcome": "passed", "message": "ok"}
>>> html = render_run(run, [{"t": 0.5, "kind": "rail", "what": "acc", "from": "off", "to": "on"}], "<svg></svg>")
>>> "<svg></svg>" in html and "acc" in html and "<script" not in html
True
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..durations import format_duration
from ..records.files import folder, is_run_log, write_new
from ..records.ledger import Ledger
from ..records.report import read_events
from ..records.sheet import last_sheet, render_sheet, sheet_path
from ..records.xmltext import clean, escape

CSS_FILE = Path(__file__).resolve().parent / "static" / "style.css"
PACKAGE = str(Path(__file__).resolve().parent.parent) + "/"  # .../site-packages/rig/: said as rig/
OUTCOME_COLOUR = {"passed": "ok", "failed": "bad", "error": "bad", "refused": "warn", "interrupted": "warn"}


def load_run(ledger_path: str, run_id: int, log_dir=None) -> tuple[dict, list[dict], str]:
    """The ledger's row, the run's events and its timeline SVG (drawn now if the file is missing).

    ``log_dir`` (a server): only the run's own log in that folder is read, whatever the ledger's
    row names (a row naming another file - /etc/shadow, another run's log - reads as no log)."""
    from ..errors import ConfigError
    from ..records.timeline import render_svg

    led = Ledger(ledger_path)
    try:
        run = led.run(run_id)
    finally:
        led.close()
    if run is None:
        raise ConfigError(f"no run {run_id} in the ledger (rig runs list)")
    log = Path(run["log"] or "")
    ours = bool(run["log"]) and (log_dir is None or is_run_log(log, log_dir, run_id))
    events = read_events(log) if ours and log.exists() else []
    svg_path = log.with_suffix(".svg")
    if ours and svg_path.exists() and not svg_path.is_symlink():
        svg = clean(svg_path.read_text(encoding="utf-8"))  # one an older rig drew may hold a control character
    else:
        svg = render_svg(events, f"{run['procedure']}  {run['serial'] or ''}")
    return run, events, svg


def _when(t) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


def _cell(v) -> str:
    if v is None:
        return ""
    # a built-in procedure's file is rig/procedures/unlock.yaml:12, not a long installed-package path
    return escape((v if isinstance(v, str) else json.dumps(v, default=str)).replace(PACKAGE, "rig/"))


def _sheet_section(sheet: dict | None, href: str | None) -> str:
    """The code-request sheet's rows as a table (not a JSON blob), with the printable page's link."""
    if sheet is None:
        return ""
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in sheet.get("rows") or [])
    link = (f'<p class="downloads"><a id="sheet-link" href="{escape(href)}" target="_blank">the printable sheet</a>'
            " (date, shop and customer fields; print it or save it as PDF)</p>") if href else ""
    return f"<h2>{escape(str(sheet.get('what') or 'Code request'))}</h2><table class=\"summary\">{rows}</table>{link}"


def render_run(run: dict, events: list[dict], svg: str, standalone: bool = True, sheet_href: str | None = None) -> str:
    """The run page; ``standalone`` inlines the CSS, otherwise it links the server's files.
    ``sheet_href``: where a standalone page finds the run's code-request sheet (a file beside it)."""
    outcome = run.get("outcome") or "running"
    duration = format_duration(run["ended"] - run["started"]) if run.get("ended") else "-"
    summary = [("run", run["id"]), ("procedure", run["procedure"]), ("unit", run.get("serial") or "-"),
               ("profile", run.get("profile") or "-"), ("backend", run.get("backend") or "-"),
               ("started", _when(run.get("started"))), ("ended", _when(run.get("ended"))),
               ("duration", duration), ("outcome", outcome), ("message", run.get("message") or "")]
    operators = sorted({e.get("what") for e in events if e.get("kind") == "operator" and e.get("what")})
    if operators:
        summary.append(("operator", ", ".join(operators)))
    kinds = sorted({e.get("kind", "") for e in events})
    rows = []
    for e in events:
        extra = {k: v for k, v in e.items() if k not in ("t", "kind", "what", "from", "to")}
        if e.get("kind") == "sheet":
            extra = "the code-request sheet: above"
        rows.append(f'<tr data-kind="{escape(e.get("kind", ""))}"><td class="num">{e.get("t", 0):.3f}</td>'
                    f'<td>{escape(e.get("kind", ""))}</td><td>{_cell(e.get("what"))}</td>'
                    f'<td>{_cell(e.get("from"))}</td><td>{_cell(e.get("to"))}</td>'
                    f'<td class="extra">{_cell(extra) if extra else ""}</td></tr>')
    if standalone:
        head = f"<style>{CSS_FILE.read_text(encoding='utf-8')}</style>"
        nav = ""
        filt = ('<p class="hint">Event kinds in this run: ' + ", ".join(escape(k) for k in kinds) + "</p>")
        downloads = ""
    else:
        sheet_href = f"/api/runs/{run['id']}/sheet.html"
        head = ('<link rel="icon" href="/static/favicon.svg"><link rel="stylesheet" href="/static/style.css">'
                '<script src="/static/run.js" defer></script>')
        nav = ('<nav><a href="/#bench">Bench</a> <a href="/#runs">Runs</a> <a href="/#units">Units</a></nav>')
        filt = ('<p class="filter"><label>Filter <input id="filter" type="search" placeholder="text in any column">'
                '</label> <label>Kind <select id="kind"><option value="">all</option>'
                + "".join(f'<option>{escape(k)}</option>' for k in kinds) + "</select></label></p>")
        base = f"/api/runs/{run['id']}"
        downloads = (f'<p class="downloads">Download: <a href="{base}/log.jsonl" download>event log (JSONL)</a> · '
                     f'<a href="{base}/junit.xml" download>JUnit XML</a> · '
                     f'<a href="{base}/timeline.svg" download>timeline (SVG)</a> · '
                     f'<a href="{base}/report.html" download>this page (HTML)</a></p>')
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in summary)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>run {run['id']} {escape(run['procedure'])}: {escape(outcome)}</title>{head}</head>
<body class="report">{nav}
<h1>Run {run['id']}: {escape(run['procedure'])} <span class="badge {OUTCOME_COLOUR.get(outcome, '')}">{escape(outcome)}</span></h1>
<table class="summary">{table}</table>{downloads}{_sheet_section(last_sheet(events), sheet_href)}
<h2>Timeline</h2>
<div class="timeline">{svg}</div>
<h2>Event log <small>({len(events)} events)</small></h2>{filt}
<table class="events" id="events"><thead><tr><th>t (s)</th><th>kind</th><th>what</th><th>from</th><th>to</th>
<th>more</th></tr></thead><tbody>
{''.join(rows)}
</tbody></table>
</body></html>
"""


def write_report(ledger_path: str, run_id: int, out: str | Path) -> Path:
    """``rig report RUN -o FILE.html``."""
    run, events, svg = load_run(ledger_path, run_id)
    sheet = sheet_path(run["log"]) if run.get("log") else None
    href = sheet.resolve().as_uri() if sheet is not None and sheet.exists() else None
    return write_new(folder(Path(out).parent, "-o") / Path(out).name,
                     render_run(run, events, svg, standalone=True, sheet_href=href))


def write_sheet_copy(ledger_path: str, run_id: int, out: str | Path) -> Path:
    """``rig report RUN --sheet -o FILE.html``: the run's code-request sheet, to print or attach."""
    from ..errors import ConfigError

    run, events, _svg = load_run(ledger_path, run_id)
    sheet = last_sheet(events)
    if sheet is None:
        raise ConfigError(f"run {run_id} ({run['procedure']}) has no code-request sheet: `rig run read-serial` makes one")
    return write_new(folder(Path(out).parent, "-o") / Path(out).name,
                     render_sheet(sheet, run, when=run.get("ended") or run.get("started")))
