"""A run's records, copied from the bench server that ran it (for `rig --server`, `rig --place`, the lab)."""

from __future__ import annotations

from pathlib import Path

from ..records.files import folder, write_new


def fetch_artifacts(client, run_id: int, directory) -> list[Path]:
    """Write run-N-PROCEDURE.jsonl (event log), .svg (timeline), .xml (JUnit) and, for a run with a
    sheet step, .sheet.html (the code-request sheet) into ``directory``, named as the bench names its own.

    Returns the files, the event log first. The bench wrote them already; these are copies
    for the CI job or technician who ran it from elsewhere.
    """
    import re

    out = folder(directory, "the log folder (RIG_LOG_DIR)")
    files = []
    procedure = str(client.get(f"/api/runs/{int(run_id)}").get("procedure") or "run")
    stem = f"run-{int(run_id):05d}-" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", procedure)[:60] or "run")
    for remote, suffix in (("log.jsonl", "jsonl"), ("timeline.svg", "svg"), ("junit.xml", "xml")):
        path = out / f"{stem}.{suffix}"
        data = client.get(f"/api/runs/{int(run_id)}/{remote}")
        write_new(path, data if isinstance(data, bytes) else str(data).encode())
        files.append(path)
    from ..records.report import read_events
    from ..records.sheet import last_sheet, sheet_path

    if last_sheet(read_events(files[0])) is not None:  # a read-serial run: the paper to hand on, too
        files.append(write_new(sheet_path(files[0]), client.get(f"/api/runs/{int(run_id)}/sheet.html?download=1")))
    return files
