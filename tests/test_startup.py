"""`rig --help` starts light: no pins, no profiles, no rich; the lazy command table tells the truth."""

import importlib
import json
import pkgutil
import subprocess
import sys

import rig.cli
from rig.cli import COMMANDS, cli

HEAVY = ("gpiozero", "yaml", "rich", "serial", "sqlite3", "rig.unit.profiles", "rig.bench.bench", "rig.bench.wiring", "rig.run.job")


def test_rig_help_imports_neither_the_pins_nor_the_profiles():
    code = ("import sys, contextlib, io\nfrom rig.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out: rc = main(['--help'])\n"
            "import json; print(json.dumps([rc, out.getvalue(), sorted(sys.modules)]))")
    rc, text, modules = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                                  check=True).stdout)
    assert rc == 0 and "Commands:" in text
    for name in COMMANDS:
        assert f"  {name} " in text
    loaded = [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]
    assert loaded == [], f"rig --help imported {loaded}"


def test_every_command_is_in_the_lazy_table_with_its_own_short_help():
    for mod in pkgutil.iter_modules(rig.cli.__path__):
        importlib.import_module(f"rig.cli.{mod.name}")
    registered = {name: cmd for name, cmd in cli.commands.items() if not cmd.hidden}
    assert set(registered) == set(COMMANDS), "add the new command to rig.cli.COMMANDS"
    for name, cmd in registered.items():
        module, short = COMMANDS[name]
        assert cmd.callback.__module__ == f"rig.cli.{module}", name
        assert short == cmd.get_short_help_str(limit=1000), name


def test_every_module_of_rig_imports():
    """The doctest collector skips modules with no example (conftest.py at the top), so this is
    where a module that no longer imports is found; rig.lab's need the `lab` extra (in `test`)."""
    import rig

    labgrid = importlib.util.find_spec("labgrid") is not None
    names = [m.name for m in pkgutil.walk_packages(rig.__path__, "rig.") if not m.name.endswith("__main__")]
    assert "rig.lab.resource" in names and "rig.serve.app" in names
    for name in names:
        if name.startswith("rig.lab.") and not labgrid:
            continue
        importlib.import_module(name)


def test_the_demo_runs_on_the_base_install_without_python_can(tmp_path):
    """`pip install . && rig demo` (the README's main job) has no python-can: the `can` extra brings
    it. The default pin map names a CAN HAT, and the simulated bench must not need the bus for a
    unit that does not (python-can is blocked here as if it were not installed)."""
    code = ("import sys; sys.modules['can'] = None\n"
            "from rig.cli import main\n"
            "sys.exit(main(['demo']))")
    env = {**__import__("os").environ, "XDG_DATA_HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "the unit is UNLOCKED." in done.stdout


def test_a_simulated_unit_off_the_bus_makes_no_can_wire(tmp_path):
    """python-can costs a `rig --backend sim` or `rig serve` process ~0.15 s to import: the simulated
    wire is made only for a unit on the bus (or when the rig opens its side), though the default pin
    map names a CAN HAT."""
    from rig.bench.bench import Bench
    from rig.bench.clock import VirtualClock
    from rig.bench.wiring import load_wiring
    from rig.sim.backend import reset_unit, sim_backend

    wiring = load_wiring()
    assert wiring.can is not None
    for profile, code, on_the_bus in (("honda", "12345", False), ("vw-rcd310", "1234", True)):
        reset_unit(tmp_path / f"{profile}.json", profile, code)
        backend = sim_backend(wiring, tmp_path / f"{profile}.json", clock=VirtualClock())
        try:
            with Bench(wiring, backend) as bench:
                bench.power("acc", True)
                bench.clock.sleep(2)
            assert backend.io._wire.made is on_the_bus, profile
        finally:
            backend.close()
