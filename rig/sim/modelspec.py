"""Which unit model a command attaches, and its settings: ``--unit-model MODULE:FACTORY,NAME=VALUE,...``.

The same text works as ``--unit-model``, ``RIG_UNIT_MODEL`` (every command, the bench
server and the pytest plugin) and the plugin's ``--rig-unit-model``. Settings follow the
factory, comma-separated; a value is YAML (``2s``, ``0.05``, ``BLAUPUNKT``, ``[0.1, 0.2]``),
so a comma inside brackets stays in its value.

>>> m = load_model("rig.sim.model:UnitModel,answer=1.05s,splash=BLAUPUNKT")
>>> m.spec, m.settings
('rig.sim.model:UnitModel', {'answer': '1.05s', 'splash': 'BLAUPUNKT'})
>>> split_spec("m:f,lag=[0.1, 0.2],seed=3")
('m:f', {'lag': [0.1, 0.2], 'seed': 3})
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Callable

from ..durations import parse_duration
from ..errors import ConfigError
from .model import ENTRY_POINT_GROUP


@dataclass
class ModelChoice:
    """A unit model as a command names it: its factory and its settings."""

    spec: str                    # MODULE:FACTORY or an entry-point name, without the settings
    factory: Callable
    settings: dict = field(default_factory=dict)

    @property
    def shipped(self) -> bool:
        """Is it the shipped unit (``rig.sim.backend:shipped_unit``), with its knobs and memory file?"""
        return getattr(self.factory, "shipped", False) is True

    @property
    def slug(self) -> str:
        """A file-name-safe form of the spec: the default memory file is ``sim-<slug>.json``."""
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", self.spec).strip("-") or "model"

    def resolved(self) -> dict:
        """The settings with the factory's declared defaults filled in, each checked."""
        return resolve_settings(self.factory, self.settings, self.spec)

    def reset(self, path, **unit) -> None:
        """``rig sim reset`` for this model: its ``reset(path, profile=, code=, ...)``."""
        reset = getattr(self.factory, "reset", None)
        if reset is None:
            raise ConfigError(f"--unit-model {self.spec}: this model cannot start a fresh unit (its factory has "
                              f"no reset); make its memory file as its author says")
        reset(path, settings=self.resolved(), **unit)

    def describe(self, path) -> dict:
        describe = getattr(self.factory, "describe", None)
        if describe is None:
            raise ConfigError(f"--unit-model {self.spec}: this model has no describe; rig sim show cannot read "
                              f"its memory")
        return dict(describe(path))


def split_spec(text: str) -> tuple[str, dict]:
    """``MODULE:FACTORY,NAME=VALUE,...`` -> (``MODULE:FACTORY``, {NAME: VALUE})."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth <= 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    spec, settings = parts[0].strip(), {}
    for part in parts[1:]:
        name, sep, raw = part.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ConfigError(f"--unit-model {text}: {part.strip()!r} is not a setting; write "
                              f"MODULE:FACTORY,NAME=VALUE,... (e.g. alpine_psa:factory,wait=10min)")
        settings[name] = _value(text, name, raw)
    return spec, settings


def _value(text: str, name: str, raw: str):
    import yaml  # only a model with settings needs it

    try:
        return yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--unit-model {text}: setting {name}: {raw!r} is not a value "
                          f"({str(exc).splitlines()[0]})") from None


def resolve_settings(factory: Callable, given: dict, spec: str = "") -> dict:
    """``given`` checked against what the factory declares (``settings = {name: default}``):
    unknown names are refused, missing ones take their default, a duration is accepted for a
    number. A factory that declares nothing gets ``given`` as it is.

    >>> class M:
    ...     settings = {"answer": 1.0, "splash": "HELLO"}
    >>> resolve_settings(M, {"answer": "1.05s"})
    {'answer': 1.05, 'splash': 'HELLO'}
    """
    declared = getattr(factory, "settings", None)
    if not isinstance(declared, dict):
        return dict(given)
    name = spec or getattr(factory, "__qualname__", "the unit model")
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ConfigError(f"--unit-model {name}: no setting {', '.join(map(repr, unknown))} (its settings: "
                          f"{', '.join(declared) or 'none'})")
    out = dict(declared)
    for key, value in given.items():
        default = declared[key]
        if isinstance(default, (int, float)) and not isinstance(default, bool) and isinstance(value, str):
            try:
                value = parse_duration(value)
            except ValueError as exc:
                raise ConfigError(f"--unit-model {name}: setting {key}: {exc}") from None
            if isinstance(default, int) and not isinstance(default, float) and float(value).is_integer():
                value = int(value)
        elif isinstance(default, bool) and not isinstance(value, bool):
            raise ConfigError(f"--unit-model {name}: setting {key}: {value!r} is not true or false")
        out[key] = value
    return out


def load_model(text: str) -> ModelChoice:
    """The model a ``--unit-model`` text names, with its settings (not yet checked)."""
    spec, settings = split_spec(text)
    return ModelChoice(spec, load_factory(spec), settings)


def load_factory(spec: str) -> Callable:
    """``package.module:factory`` or a name in the ``rig.unit_models`` entry-point group.

    >>> load_factory("rig.sim.backend:shipped_unit").__name__
    'shipped_unit'
    """
    spec = spec.strip()
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigError(f"--unit-model {spec}: cannot import {module_name} ({exc}); "
                              f"is it on PYTHONPATH or installed?") from None
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                raise ConfigError(f"--unit-model {spec}: {module_name} has no {attr!r}")
    else:
        from importlib.metadata import entry_points

        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == spec]
        if not found:
            names = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
            raise ConfigError(f"--unit-model {spec}: no unit model of that name (write package.module:factory, "
                              f"or one of the installed: {', '.join(names) or 'none'})")
        try:
            obj = found[0].load()
        except Exception as exc:
            raise ConfigError(f"--unit-model {spec}: loading {found[0].value} failed: {exc}") from None
    if not callable(obj):
        raise ConfigError(f"--unit-model {spec}: {obj!r} is not callable (a factory takes the UnitIO)")
    return obj
