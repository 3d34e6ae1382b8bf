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

import hashlib
import marshal
import os
import re
from pathlib import Path

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


def _make_loaders() -> list:
    """The loader classes, built on first use: ``import yaml`` is ~10 ms a command need not pay
    when every file it reads was parsed before (:func:`remember_parses`)."""
    import yaml

    class _Loader(yaml.SafeLoader):
        """The pure-Python loader: always there, and the one whose errors the rig quotes."""

    try:
        class _CLoader(yaml.CSafeLoader):
            """The same loader on libyaml's parser."""
    except AttributeError:  # PyYAML built without libyaml
        _CLoader = None
    loaders = [cls for cls in (_CLoader, _Loader) if cls is not None]
    # Replace the YAML 1.1 bool resolver with a strict true/false one.
    resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for cls in loaders:
        cls.yaml_implicit_resolvers = {k: list(v) for k, v in resolvers.items()}
        cls.add_implicit_resolver(
            "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
        )
        cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
        cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
    _LOADERS.update(_Loader=_Loader, _CLoader=_CLoader)
    return loaders


_LOADERS: dict = {}


def __getattr__(name):  # yamlfile._Loader / _CLoader, built when first asked for
    if name in ("_Loader", "_CLoader"):
        if not _LOADERS:
            _make_loaders()
        return _LOADERS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _construct_mapping(loader, node):
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            import yaml

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


def load_text(text: str, filename: str, first_line: int = 1, fast: bool = True):
    """Parse YAML text; a syntax error becomes a ConfigError naming file:line.

    ``first_line`` shifts line numbers for YAML embedded in a bigger file
    (the front matter of a Markdown note starts on line 2). ``fast=False``
    forces the pure-Python parser (the tests compare the two).
    """
    key = _cache_key(text, filename, first_line) if fast and _DISK["dir"] else None
    if key is not None:
        data = _recall(key)
        if data is not _MISSING:
            return data
    import yaml

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
    if key is not None:
        _remember(key, data)
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
    import yaml

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
    import yaml

    _Loader, _CLoader = __getattr__("_Loader"), __getattr__("_CLoader")
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


# What a file parsed to, kept on disk by content, so a command that reads the same pin map,
# procedure and notes as the last one skips YAML (~30 ms of a ~150 ms `rig run`). Only
# documents that parsed and passed the checks above are kept; any problem reading one back
# is a miss, and the text is parsed as before. The rig command turns it on
# (rig.cli.main); a program importing rig parses every time unless it calls this.
_DISK: dict = {"dir": None}
_MISSING = object()
_FORMAT = b"rig-yaml-1"  # bump when LineDict/LineList or the loader's rules change
_KEEP = 200  # files kept: a bench's pin map, notes and procedures, and their last few edits


def remember_parses(directory: str | Path | None) -> None:
    """Keep parsed YAML under ``directory`` (made 0700; None: stop).

    >>> remember_parses(None)
    """
    _DISK["dir"] = Path(directory) if directory else None


def _cache_key(text: str, filename: str, first_line: int) -> str:
    h = hashlib.blake2b(_FORMAT, digest_size=20)
    for part in (filename, str(first_line), text):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def _freeze(node):
    if isinstance(node, LineDict):
        return ("d", node.line, [(k, node.key_lines.get(k), _freeze(v)) for k, v in node.items()])
    if isinstance(node, LineList):
        return ("l", node.line, list(node.item_lines), [_freeze(v) for v in node])
    if isinstance(node, (dict, list, tuple)):
        raise ValueError("only the loader's own containers are kept")
    return node


def _thaw(node):
    if type(node) is not tuple:
        return node
    if node[0] == "d":
        out = LineDict()
        out.line, out.key_lines = node[1], {}
        for k, line, v in node[2]:
            out[k] = _thaw(v)
            if line is not None:
                out.key_lines[k] = line
        return out
    out = LineList(_thaw(v) for v in node[3])
    out.line, out.item_lines = node[1], node[2]
    return out


def _recall(key: str):
    try:
        return _thaw(marshal.loads((_DISK["dir"] / key).read_bytes()))
    except Exception:  # absent, truncated, another Python's format: parse instead
        return _MISSING


def _remember(key: str, data) -> None:
    try:
        blob = marshal.dumps(_freeze(data))  # a timestamp or binary value: ValueError, not kept
        directory = _DISK["dir"]
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = directory / f".{key}.{os.getpid()}"
        tmp.write_bytes(blob)
        os.replace(tmp, directory / key)  # whole or not at all, even with two commands at once
        kept = sorted(directory.iterdir(), key=lambda p: p.stat().st_mtime)
        for old in kept[:-_KEEP]:  # every edit of a file adds one: the oldest go (a miss re-parses)
            old.unlink()
    except Exception:
        pass
