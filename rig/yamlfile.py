"""YAML loading that remembers line numbers, so every error can say file:line.

PyYAML's YAML 1.1 rules read ``on``/``off``/``yes``/``no`` as booleans, which
turns a rail's ``safe: on`` into ``True`` and a key named ``no`` into ``False``.
The loader here keeps only ``true``/``false`` as booleans and leaves the rest
as the strings a technician typed; a date stays text too.

What a file can ask the loader for is bounded, so no file can take the bench
down: at most MAX_TEXT characters are parsed, nesting stops at MAX_DEPTH, and
aliases (``*name``, which let 400 bytes expand to gigabytes) are refused with
their line, as are tags the rig has no use for (``!!binary``, ``!!set``,
``!!timestamp``) and a value its tag cannot make (``!!float x``).

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
from collections.abc import Hashable
from pathlib import Path

from . import yamlcache
from .errors import ConfigError, Problem
from .yamlcache import never_remember, remember_parses  # noqa: F401  (the cache's switches, used through here)


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

    class _Bounded:
        """What both loaders refuse: an alias, a value its tag cannot make."""

        def compose_node(self, parent, index):
            # The Python composer sees an alias as itself, with its own line (libyaml's composer,
            # in C, only shares the node: the constructor below catches that, and the Python
            # parser is asked again for the line).
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(None, None, _ALIAS.format(event.anchor), event.start_mark)
            return super().compose_node(parent, index)

        def construct_object(self, node, deep=False):
            if node in self.constructed_objects or node in self.recursive_objects:
                raise yaml.constructor.ConstructorError(None, None, _ALIAS.format(node.anchor or "..."),
                                                        node.start_mark)  # a node met twice came by an alias
            try:
                return super().construct_object(node, deep)
            except yaml.YAMLError:
                raise
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError):
                # !!float x, !!int x, !!bool x, !!timestamp x: PyYAML's constructors raise bare errors
                raise yaml.constructor.ConstructorError(
                    None, None, f"{shown_tag(node.tag)} {_short(node.value)!r} is not a value of that type",
                    node.start_mark) from None

    class _Loader(_Bounded, yaml.SafeLoader):
        """The pure-Python loader: always there, and the one whose errors the rig quotes."""

    try:
        class _CLoader(_Bounded, yaml.CSafeLoader):
            """The same loader on libyaml's parser."""
    except AttributeError:  # PyYAML built without libyaml
        _CLoader = None
    loaders = [cls for cls in (_CLoader, _Loader) if cls is not None]
    # Replace the YAML 1.1 bool resolver with a strict true/false one, and read dates as text.
    resolvers = {
        k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    for cls in loaders:
        cls.yaml_implicit_resolvers = {k: list(v) for k, v in resolvers.items()}
        cls.add_implicit_resolver(
            "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
        )
        cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
        cls.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
        for tag in _REFUSED_TAGS:
            cls.add_constructor(f"tag:yaml.org,2002:{tag}", _refuse_tag)
    _LOADERS.update(_Loader=_Loader, _CLoader=_CLoader)
    return loaders


_ALIAS = ("an alias (*{}): rig files do not use anchors and aliases (one alias can expand a few "
          "hundred bytes into gigabytes); write the value out")
_REFUSED_TAGS = ("timestamp", "binary", "set", "omap", "pairs")


def shown_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:"):] if tag.startswith("tag:yaml.org,2002:") else tag


def _short(value) -> str:
    text = value if isinstance(value, str) else "..."
    return text if len(text) <= 40 else text[:37] + "..."


def _refuse_tag(loader, node):
    import yaml

    raise yaml.constructor.ConstructorError(
        None, None, f"{shown_tag(node.tag)}: the rig reads text, numbers, true/false, lists and mappings; "
        f"write this value as one of those", node.start_mark)


_LOADERS: dict = {}


def __getattr__(name):  # yamlfile._Loader / _CLoader, built when first asked for
    if name in ("_Loader", "_CLoader"):
        if not _LOADERS:
            _make_loaders()
        return _LOADERS[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _construct_mapping(loader, node):
    import yaml

    if not isinstance(node, yaml.MappingNode):  # !!map on a word or a list
        raise yaml.constructor.ConstructorError(None, None, f"{shown_tag(node.tag)} on something that is "
                                                "not a mapping", node.start_mark)
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):  # ? [a, b]: a list or mapping as a key
            raise yaml.constructor.ConstructorError(
                None, None, "a key is a word or a number, not a list or a mapping", key_node.start_mark)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_sequence(loader, node):
    import yaml

    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(None, None, f"{shown_tag(node.tag)} on something that is "
                                                "not a list", node.start_mark)
    out = LineList(loader.construct_object(n, deep=True) for n in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [n.start_mark.line + 1 for n in node.value]
    return out


def load_text(text: str, filename: str, first_line: int = 1, fast: bool = True, remember: bool = True):
    """Parse YAML text; a syntax error becomes a ConfigError naming file:line.

    ``first_line`` shifts line numbers for YAML embedded in a bigger file
    (the front matter of a Markdown note starts on line 2). ``fast=False``
    forces the pure-Python parser (the tests compare the two). ``remember=False``: never
    kept on disk (:func:`remember_parses`).
    """
    if len(text) > MAX_TEXT:  # before parsing: PyYAML holds a whole document's nodes at once
        raise ConfigError([Problem(filename, first_line, f"{len(text) // 1024} KiB of YAML; the rig reads at most "
                                   f"{MAX_TEXT // 1024} KiB (a pin map, profile or procedure is a few pages)")])
    key = yamlcache.key(text, filename, first_line) if fast and remember and yamlcache.on() else None
    if key is not None:
        data = yamlcache.recall(key, _thaw)
        if data is not yamlcache.MISSING:
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
        yamlcache.remember(key, _freeze, data)
    return data


MAX_TEXT = 256 * 1024  # bytes of YAML: the pin map is ~4 KB, the largest note's front matter ~15 KB
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
    return load_text(read_text(path), str(path), remember=yamlcache.kept_from(path))


def read_text(path: str | Path, limit: int = 0) -> str:
    """A text file the rig reads (YAML, a firmware note), refused past ``limit`` bytes (default
    MAX_TEXT) without reading the rest: a mistyped path to a disk image must not fill the memory.

    >>> try:
    ...     read_text(__file__, 1024)
    ... except ConfigError as exc:
    ...     print(exc.problems[0].message)
    over 1 KiB; is this the right file?
    """
    path, limit = Path(path), limit or MAX_TEXT
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise ConfigError([Problem(str(path), None, f"cannot read: {exc.strerror}")]) from None
    if len(data) > limit:
        raise ConfigError([Problem(str(path), None, f"over {limit // 1024} KiB; is this the right file?")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([not_utf8(path, exc)]) from None


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


# -- the codec the parsed-YAML cache keeps (rig/yamlcache.py) ------------------------------
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
        if node is not None and not isinstance(node, (str, int, float, bool)):
            raise ValueError("not a value a YAML file gives")
        return node
    if node[0] == "d":
        out = LineDict()
        out.line, out.key_lines = node[1], {}
        for k, line, v in node[2]:
            out[k] = _thaw(v)
            if line is not None:
                out.key_lines[k] = line
        return out
    if node[0] != "l":
        raise ValueError("not a kept container")
    out = LineList(_thaw(v) for v in node[3])
    out.line, out.item_lines = node[1], node[2]
    return out
