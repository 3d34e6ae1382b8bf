"""rig: a Raspberry Pi bench rig for removed car-stereo head units.

The layers, in the order data flows: :mod:`rig.wiring` (pin map) ->
:mod:`rig.bench` (rails, keys, senses on gpiozero) -> :mod:`rig.procedure`
(scripted jobs) -> :mod:`rig.ledger` / :mod:`rig.report` (records).
"""

__version__ = "0.1.0"
