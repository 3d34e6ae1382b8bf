"""A lab of benches on labgrid: which bench a job gets, and who holds it.

labgrid's coordinator keeps places, tags, reservations and locks; each Pi runs
``rig serve`` (which keeps the pins) and ``rig-lg-exporter`` (which publishes
the bench to the coordinator as a ``RigBench`` resource and tells ``rig serve``
which place holds it). Nothing here moves a pin: jobs still run through the
bench's server, with its checks, ledger and safe unwind.

The modules import labgrid, so they load only when the ``lab`` extra is
installed (``pip install 'rig[lab]'``); :func:`need_labgrid` says so plainly
when it is not.
"""

from __future__ import annotations

from ..errors import ConfigError

LABGRID_MAJOR = 26  # the version the lab was built and tested on (setup.py pins the extra to it)


def need_labgrid():
    """labgrid, or a ConfigError that says how to install it."""
    try:
        import labgrid
    except ImportError:
        raise ConfigError("the lab commands need labgrid: pip install 'rig[lab]' "
                          f"(labgrid {LABGRID_MAJOR}.x, with its gRPC coordinator)") from None
    return labgrid
