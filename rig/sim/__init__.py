"""A simulated head unit: a profile run as a state machine on the VirtualClock.

It is a backend like the hardware: it watches the rails and keys through
gpiozero MockFactory pins (seeing exactly what the rig drove, when), drives
the ``unit_on`` sense, and writes its display as tap lines into a pty that
the rig reads through pyserial. The core never imports this package; the CLI
and the pytest plugin choose it.
"""
