"""Collection rules for the whole repository (tests/conftest.py holds the tests' fixtures).

`--doctest-modules` imports every module of rig/ to look for examples; a module with none
costs its imports for nothing (rig/lab/resource.py: labgrid, ~0.4 s in every xdist worker).
Only modules with an example are collected for doctests. Whether every module imports at
all is the tests' business (tests/test_startup.py), not the doctest collector's.
"""

from pathlib import Path

RIG = Path(__file__).resolve().parent / "rig"


def pytest_ignore_collect(collection_path, config):
    path = Path(collection_path)
    if path.suffix == ".py" and path.is_relative_to(RIG):
        try:
            return None if b">>>" in path.read_bytes() else True
        except OSError:
            return None
    return None
