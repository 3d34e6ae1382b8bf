"""pytest plugin for HIL CI: fixtures for a bench on the mock, sim or hardware backend.

Loaded through the ``pytest11`` entry point wherever rig is installed; it
only adds fixtures and options, it changes nothing else.
"""
