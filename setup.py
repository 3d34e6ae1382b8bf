"""Install rig.  On x86:  pip install '.[test]'   On a Pi:  pip install '.[pi]'"""

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithData(build_py):
    """Ship wiring/bench.yaml and firmware_notes/ inside the package.

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


setup(
    name="rig",
    version="0.1.0",
    description="Raspberry Pi bench rig for removed car-stereo head units: power rails, "
                "button combos, SAFE/CODE lockouts and known-code entry, with a simulator for CI",
    long_description=(HERE / "README.md").read_text(encoding="utf-8") if (HERE / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    packages=find_packages(include=["rig", "rig.*"]),
    package_data={"rig": ["procedures/*.yaml"]},
    cmdclass={"build_py": BuildWithData},
    install_requires=[
        "gpiozero>=2.0",
        "pyserial>=3.5",
        "PyYAML>=6.0",
        "click>=8.1",
        "rich>=13.0",
    ],
    extras_require={
        # RPi.GPIO on 32/64-bit Arm Pis before the Pi 5; lgpio (the only
        # factory that works on a Pi 5) on 64-bit Arm. The markers keep x86
        # from ever trying to build either.
        "pi": [
            "RPi.GPIO>=0.7.1; platform_machine=='armv7l' or platform_machine=='armv6l' or platform_machine=='aarch64'",
            "lgpio>=0.2.2.0; platform_machine=='aarch64'",
        ],
        # rig serve: the bench server and its page (in the Pi install line; the base install stays light)
        "serve": ["starlette>=0.40", "uvicorn>=0.30"],
        # hypothesis: property tests of every loader; httpx and playwright: the server's HTTP and browser tests
        "test": ["pytest>=7.4", "hypothesis>=6.80", "starlette>=0.40", "uvicorn>=0.30", "httpx>=0.27",
                 "playwright>=1.40"],
    },
    entry_points={
        "console_scripts": ["rig=rig.cli:main"],
        "pytest11": ["rig=rig.pytest_plugin"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "Operating System :: POSIX :: Linux",
        "Topic :: System :: Hardware",
    ],
)
