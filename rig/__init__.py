"""rig: a Raspberry Pi bench rig for removed car-stereo head units.

The layers, in the order data flows: :mod:`rig.bench.wiring` (pin map) ->
:mod:`rig.bench.bench` (rails, keys, senses on gpiozero) -> :mod:`rig.run.procedure`
(scripted jobs) -> :mod:`rig.records.ledger` / :mod:`rig.records.report` (records).
"""

__version__ = "0.1.0"
