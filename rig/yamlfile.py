"""YAML loading that remembers line numbers, so every error can say file:line.

PyYAML's YAML 1.1 rules read ``on``/``off``/``yes``/``no`` as booleans, which
turns a rail's ``safe: on`` into ``True`` and a key named ``no`` into ``False``.
The loader here keeps only ``true``/``false`` as booleans and leaves the rest
as the strings a technician typed.

Parsing goes through libyaml (PyYAML's C parser) when it is installed, about
four times faster than the pure-Python one; both loaders resolve, construct
and number lines the same way. A document the C parser rejects is parsed
again by the Python one, so a syntax error reads the same either way.

>>> data = load_text("rail: {safe: on}\\nkeys: [mode, scan]\\n", "bench.yaml")
>>> data["rail"]["safe"], data.line_of("keys"), data["keys"].line_of(1)
('on', 2, 2)
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .errors import ConfigError, Problem


class LineDict(dict):
    """A mapping that knows the line of each key (1-based) and its own line."""

    line: int = 0
    key_lines: dict

    def line_of(self, key) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list):
    """A sequence that knows the line of each item."""

    line: int = 0
    item_lines: list

    def line_of(self, index: int) -> int:
        try:
            return self.item_lines[index]
        except IndexError:
            return self.line


class _Loader(yaml.SafeLoader):
    """The pure-Python loader: always there, and the one whose errors the rig quotes."""


try:
    class _CLoader(yaml.CSafeLoader):
        """The same loader on libyaml's parser."""
except AttributeError:  # PyYAML built without libyaml
    _CLoader = None

_LOADERS = [cls for cls in (_CLoader, _Loader) if cls is not None]

# Replace the YAML 1.1 bool resolver with a strict true/false one.
_RESOLVERS = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _cls in _LOADERS:
    _cls.yaml_implicit_resolvers = {k: list(v) for k, v in _RESOLVERS.items()}
    _cls.add_implicit_resolver(
        "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
    )


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader, node):
    out = LineList(loader.construct_object(n, deep=True) for n in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [n.start_mark.line + 1 for n in node.value]
    return out


for _cls in _LOADERS:
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
    _cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_text(text: str, filename: str, first_line: int = 1, fast: bool = True):
    """Parse YAML text; a syntax error becomes a ConfigError naming file:line.

    ``first_line`` shifts line numbers for YAML embedded in a bigger file
    (the front matter of a Markdown note starts on line 2). ``fast=False``
    forces the pure-Python parser (the tests compare the two).
    """
    data, overflow = None, False
    try:
        data = _parse(text, fast)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + first_line) if mark else None
        what = exc.problem or str(exc)
        raise ConfigError([Problem(filename, line, f"not valid YAML: {what}")]) from None
    except yaml.reader.ReaderError as exc:  # a control character: say where, not "position 8"
        line = text[:exc.position].count("\n") + first_line
        raise ConfigError([Problem(filename, line, f"not valid YAML: control character U+{exc.character:04X} is not allowed "
                                   "in a YAML file (write it as \\x.. inside double quotes)")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(filename, None, f"not valid YAML: {exc}")]) from None
    except RecursionError:
        overflow = True
    if overflow or _too_deep(data):
        raise ConfigError([Problem(filename, _deep_line(text, first_line),
                                   f"nested more than {MAX_DEPTH} levels deep")]) from None
    if first_line != 1:
        _shift(data, first_line - 1)
    return data


MAX_DEPTH = 40  # no pin map, profile or procedure needs more; ~1,000 levels overflow Python's stack


def _too_deep(data) -> bool:
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            stack += [(v, depth + 1) for v in (node.values() if isinstance(node, dict) else node)]
    return False


def _deep_line(text: str, first_line: int) -> int | None:
    """The line where the nesting passes MAX_DEPTH: brackets counted first (PyYAML's scanner is
    quadratic in flow depth), then the event parser, which keeps a stack rather than recursing."""
    depth = 0
    for number, line in enumerate(text.splitlines()):
        for ch in line:
            depth += (ch in "[{") - (ch in "]}")
            if depth > MAX_DEPTH:
                return number + first_line
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    return event.start_mark.line + first_line
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    return None


def _parse(text: str, fast: bool):
    if fast and _CLoader is not None:
        try:
            return yaml.load(text, Loader=_CLoader)
        except yaml.YAMLError as exc:
            if "maximum nesting depth" in str(exc):
                raise RecursionError from None  # libyaml's own limit; the Python parser takes seconds to hit Python's
            # libyaml words its errors (and places some) differently: let the Python parser say it
    return yaml.load(text, Loader=_Loader)


def _shift(node, by: int) -> None:
    if isinstance(node, LineDict):
        node.line += by
        node.key_lines = {k: v + by for k, v in node.key_lines.items()}
        for v in node.values():
            _shift(v, by)
    elif isinstance(node, LineList):
        node.line += by
        node.item_lines = [v + by for v in node.item_lines]
        for v in node:
            _shift(v, by)


def load_file(path: str | Path):
    """Read and parse a YAML file, with file:line errors."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, f"cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([not_utf8(path, exc)]) from None
    return load_text(text, str(path))


def not_utf8(path, exc: UnicodeDecodeError) -> Problem:
    """Where a file stops being UTF-8 text, as file:line (a Latin-1 'ä' from an old editor, a binary)."""
    line = exc.object[:exc.start].count(b"\n") + 1
    return Problem(str(path), line, f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); "
                   "save the file as UTF-8")


def line_of(node, key=None) -> int | None:
    """Best line number for ``node[key]`` (or the node itself)."""
    if key is not None and isinstance(node, (LineDict, LineList)):
        return node.line_of(key)
    return getattr(node, "line", None)
