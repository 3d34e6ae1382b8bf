"""Install rig.  On x86:  pip install '.[test]'   On a Pi:  pip install '.[pi]'

On a Pi, install Debian's python3-lgpio first and make the venv with
--system-site-packages (README, "Installing on a Raspberry Pi"): pip then finds
lgpio already there instead of building it (which needs swig and liblgpio-dev).
"""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# armv8l: a 32-bit userland on a 64-bit kernel (Raspberry Pi OS 32-bit on a Pi 4 or 5)
ARM = "platform_system == 'Linux' and (platform_machine == 'aarch64' or platform_machine == 'armv8l' " \
      "or platform_machine == 'armv7l' or platform_machine == 'armv6l')"
PI_LGPIO = f"lgpio>=0.2.2; {ARM}"
PI_RPIGPIO = f"RPi.GPIO>=0.7.1; {ARM}"


class BuildWithData(build_py):
    """Ship wiring/bench.yaml and firmware_notes/ (with its wake/ sets) inside the package.

    They stay at the top of the repository, where a technician looks for them;
    an installed rig finds its copies under rig/data/.
    """

    def run(self):
        super().run()
        data = Path(self.build_lib) / "rig" / "data"
        (data / "firmware_notes").mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "wiring" / "bench.yaml", data / "bench.yaml")
        for note in (HERE / "firmware_notes").glob("*.md"):
            shutil.copy(note, data / "firmware_notes" / note.name)
        (data / "firmware_notes" / "wake").mkdir(exist_ok=True)  # the shipped CAN wake sets
        for wake in (HERE / "firmware_notes" / "wake").glob("*.yaml"):
            shutil.copy(wake, data / "firmware_notes" / "wake" / wake.name)


setup(
    name="rig",
    version="0.1.0",
    description="Raspberry Pi bench rig for removed car-stereo head units: power rails, "
                "button combos, SAFE/CODE lockouts and known-code entry, with a simulator for CI",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["rig", "rig.*"]),
    package_data={"rig": ["procedures/*.yaml", "serve/static/*"]},  # serve/static: the bench page
    cmdclass={"build_py": BuildWithData},
    install_requires=[
        # 2.0.1 opens gpiochip4 on a Pi 5, gone since kernel 6.6.45 (gpiozero #1166); 2.0.1.post1
        # and .post2 lost LGPIOFactory's `import os` and fall back to RPi.GPIO (#1229).
        "gpiozero>=2.0.1.post3",
        "pyserial>=3.5",
        "PyYAML>=6.0",
        "click>=8.1",
        "rich>=13.0",
    ],
    extras_require={
        # lgpio on every Arm Pi, 32- and 64-bit: it is the only library that works on a Pi 5,
        # and the only one whose outputs the kernel releases when rig is killed (RPi.GPIO writes
        # the registers directly). x86 never tries to build it.
        "pi": [PI_LGPIO],
        # RPi.GPIO, only for an old image where lgpio cannot open /dev/gpiochip0; never on a Pi 5.
        "rpigpio": [PI_RPIGPIO],
        # rig serve: the bench server and its page (in the Pi install line; the base install stays light)
        "serve": ["starlette>=0.40", "uvicorn>=0.30"],
        # the lab (rig/lab): labgrid's coordinator, exporter and client. Pinned to the major version the
        # lab was tested on: 25.0 changed the wire protocol (gRPC), so a 27 may too. labgrid brings
        # pyserial-labgrid, which installs the same `serial` package as pyserial (labgrid #1245); both
        # are 3.5 with the same API for what the tap uses (Serial, read, in_waiting), so either copy
        # works. Never `pip uninstall pyserial-labgrid` alone: it deletes serial/ from under pyserial.
        "lab": ["labgrid>=26.0.1,<27", "starlette>=0.40", "uvicorn>=0.30"],
        # the car's network (rig/can): python-can for the bus and its periodic frames, can-isotp for a display
        # over CAN. Only for units that need CAN: the base install never imports either.
        "can": ["python-can>=4.6,<5", "can-isotp>=2.0,<3"],
        # rig can watch --dbc: frames decoded by a DBC file
        "dbc": ["cantools>=45"],
        # the schematic sheets (rig wiring schematic): a drawing tool, never on the Pi's base install
        "docs": ["schemdraw>=0.19"],
        # hypothesis: property tests of every loader; httpx and playwright: the server's HTTP and browser tests
        "test": ["schemdraw>=0.19", "pytest>=7.4", "pytest-xdist>=3.5", "hypothesis>=6.80", "starlette>=0.40", "uvicorn>=0.30", "httpx>=0.27",
                 "playwright>=1.40", "labgrid>=26.0.1,<27",  # labgrid: the lab's loopback tests
                 # the CAN tests; msgpack: python-can's udp_multicast bus, for the tests across processes
                 "python-can>=4.6,<5", "can-isotp>=2.0,<3", "cantools>=45", "msgpack>=1.0"],
    },
    entry_points={
        "console_scripts": ["rig=rig.cli:main", "rig-lg-exporter=rig.lab.exporter:main"],
        "pytest11": ["rig=rig.pytest_plugin", "rig_lab=rig.pytest_plugin_lab"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX :: Linux",
        "Topic :: System :: Hardware",
    ],
)
