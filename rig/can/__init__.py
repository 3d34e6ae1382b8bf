"""The car's network on the bench: CAN frames, wake sets, logs, the bus and its periodic sender.

Nothing here touches a pin or knows a profile: the bench (:mod:`rig.bench.canbus`) makes
the bus one of its channels, and the unit layer (:mod:`rig.unit.canunit`) says which
frames a family needs. python-can is imported only where a bus or a log is opened; it
comes with the ``can`` extra (``pip install 'rig[can]'``).
"""
