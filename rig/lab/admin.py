"""What a lab admin does on the coordinator: places from a file, tags from the benches, the sweep.

Each takes an open :class:`rig.lab.places.Lab`::

    with Lab() as lab:
        for p in read_places_file("places.yaml"):
            add_place(lab, p["name"], p["match"], p["tags"], p["comment"])
        sync_tags(lab)
        sweep(lab, idle=7200, token=os.environ.get("RIG_TOKEN"))
"""

from __future__ import annotations

from ..errors import ConfigError
from .places import entry_url


def sweep(lab, idle: float, token: str | None, dry_run: bool = False) -> list[tuple[str, str]]:
    """Release places whose bench has done nothing for ``idle`` seconds (labgrid's locks never expire).

    A place is released only if its bench answers, runs no job and has been idle
    that long, and only from the user who held it when we looked (labgrid's
    ``release-from``), so a job that acquired it a moment ago keeps it; that user's
    reservation of the place is cancelled first, so the next job gets it at once.
    Returns ``(place, what happened)`` for every acquired place.
    """
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    from ..durations import format_duration
    from ..serve.client import Client

    report = []
    for pb in lab.places():
        if not pb.acquired:
            continue
        if pb.bench is None:
            report.append((pb.place, f"kept: held by {pb.acquired}; no RigBench to ask"))
            continue
        try:
            entry = lab.bench_entry(lab.session.places[pb.place])
            info = Client(entry_url(entry), token).call("GET", "/api/lab", timeout=5)
        except Exception as exc:  # noqa: BLE001  (one line per place, never a traceback)
            report.append((pb.place, f"kept: held by {pb.acquired}; its bench does not answer ({exc})"))
            continue
        idle_for = info.get("idle_for")
        if idle_for is None:
            job = info.get("job") or {}
            report.append((pb.place, f"kept: held by {pb.acquired}; running {job.get('procedure', 'a job')}"))
        elif idle_for < idle:
            report.append((pb.place, f"kept: held by {pb.acquired}; idle {format_duration(idle_for)}"))
        elif dry_run:
            report.append((pb.place, f"would release: held by {pb.acquired}, idle {format_duration(idle_for)}"))
        else:
            run = lab.loop.run_until_complete
            # its reservation first: an acquired one never expires, and would keep the next job waiting
            for res in run(lab.session.stub.GetReservations(pb2.GetReservationsRequest())).reservations:
                if res.owner == pb.acquired and res.allocations.get("main") == pb.place:
                    run(lab.session.stub.CancelReservation(pb2.CancelReservationRequest(token=res.token)))
            run(lab.session.stub.ReleasePlace(pb2.ReleasePlaceRequest(placename=pb.place, fromuser=pb.acquired)))
            report.append((pb.place, f"released: held by {pb.acquired}, idle {format_duration(idle_for)}"))
    lab.loop.run_until_complete(lab.session.sync_with_coordinator())
    return report


def add_place(lab, name: str, match: list[str], tags: dict | None = None, comment: str = "") -> list[str]:
    """Create a place (or bring an existing one up to date); returns what was done."""
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    done, run = [], lab.loop.run_until_complete
    place = lab.session.places.get(name)
    if place is None:
        run(lab.session.stub.AddPlace(pb2.AddPlaceRequest(name=name)))
        run(lab.session.sync_with_coordinator())
        place = lab.session.places[name]
        done.append("created")
    for pattern in match:
        if not place.hasmatch(pattern.split("/")):
            run(lab.session.stub.AddPlaceMatch(pb2.AddPlaceMatchRequest(placename=name, pattern=pattern)))
            done.append(f"match {pattern}")
    want = {k: v for k, v in (tags or {}).items() if place.tags.get(k) != v}
    if want:
        run(lab.session.stub.SetPlaceTags(pb2.SetPlaceTagsRequest(placename=name, tags=want)))
        done.append("tags " + " ".join(f"{k}={v}" for k, v in sorted(want.items())))
    if comment and comment != place.comment:
        run(lab.session.stub.SetPlaceComment(pb2.SetPlaceCommentRequest(placename=name, comment=comment)))
        done.append("comment")
    run(lab.session.sync_with_coordinator())
    return done


def sync_tags(lab) -> list[tuple[str, dict]]:
    """Copy each bench's unit, profile and family into its place's tags; returns what changed."""
    from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

    changed = []
    for pb in lab.places():
        if pb.bench is None:
            continue
        want = {"unit": pb.bench.get("serial") or "", "profile": pb.bench.get("profile") or "",
                "family": pb.bench.get("family") or ""}
        diff = {k: v for k, v in want.items() if pb.tags.get(k, "") != v}
        if not diff:
            continue
        # an empty value deletes the tag in labgrid: a bench with no unit declared loses its old one
        lab.loop.run_until_complete(lab.session.stub.SetPlaceTags(pb2.SetPlaceTagsRequest(
            placename=pb.place, tags=diff)))
        changed.append((pb.place, diff))
    if changed:
        lab.loop.run_until_complete(lab.session.sync_with_coordinator())
    return changed


def read_places_file(path) -> list[dict]:
    """A lab's places from YAML; every mistake says file:line, before anything is changed.

    ::

        places:
          bench-01:
            match: pi-01/bench-01/RigBench     # exporter/group/RigBench (or a list of them)
            tags: {shop: north}                # more tags; sync-tags adds unit/profile/family
            comment: Pi 07, left bench
    """
    import re

    from ..errors import Problem
    from ..yamlfile import load_file

    data = load_file(path)
    src = str(path)
    problems, out = [], []
    places = data.get("places") if isinstance(data, dict) else None
    if not isinstance(places, dict) or not places:
        raise ConfigError([Problem(src, 1, "a places file is `places: {NAME: {match: EXPORTER/GROUP/RigBench}}`")])
    for name, spec in places.items():
        line = places.line_of(name)
        if not isinstance(spec, dict):
            problems.append(Problem(src, line, f"place {name}: give match:, and optionally tags: and comment:"))
            continue
        for k in spec:
            if k not in ("match", "tags", "comment"):
                problems.append(Problem(src, spec.line_of(k), f"place {name}: unknown field {k!r} "
                                        f"(match, tags, comment)"))
        matches = spec.get("match")
        matches = [matches] if isinstance(matches, str) else matches
        if not matches or not all(isinstance(m, str) and 2 <= m.count("/") <= 3 for m in matches):
            problems.append(Problem(src, spec.line_of("match"), f"place {name}: match is EXPORTER/GROUP/CLASS "
                                    f"(e.g. pi-01/bench-01/RigBench)"))
        tags = spec.get("tags") or {}
        if not isinstance(tags, dict) or not all(re.fullmatch(r"[a-z][a-z0-9_]+", str(k)) for k in tags):
            problems.append(Problem(src, spec.line_of("tags"), f"place {name}: tags are lower-case names "
                                    f"(a-z, 0-9, _; two characters or more) with values"))
            tags = {}
        out.append({"name": str(name), "match": list(matches or []), "tags": {str(k): str(v) for k, v in tags.items()},
                    "comment": str(spec.get("comment") or "")})
    if problems:
        raise ConfigError(problems)
    return out
