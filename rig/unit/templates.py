"""Display templates: one text serves the rig (as a pattern) and the simulator (as text).

A template is what the unit shows, with placeholders:

=============  =========================================  ==================
placeholder    matches                                    a simulator shows
=============  =========================================  ==================
``{digits}``   the code-entry digits (0-9, ``-``, ``*``)    the digits
``{n}``        a number (attempt, attempts left)          the number
``{time}``     a countdown such as ``30:00`` or ``29``    ``mm:ss`` left
``{radio}``    the normal radio display (``FM1 87.5``)    ``FM1 87.5``
``{serial}``   a serial number                            the unit's serial
``{stars}``    one ``*`` per digit still to enter         the stars left
=============  =========================================  ==================

Matching is on the whole line, with runs of whitespace collapsed.

>>> rx = to_regex(["CODE {digits}"], digit_count=4)
>>> bool(rx.search("CODE 12-4")), bool(rx.search("CODE 1234 5"))
(True, False)
>>> render("LOCKED{n}", n=10)
'LOCKED10'
"""

from __future__ import annotations

import re
from functools import lru_cache

PLACEHOLDER = re.compile(r"\{(\w+)\}")
KNOWN = ("digits", "n", "time", "radio", "serial", "stars")
RADIO_TEXT = "FM1 87.5"


def placeholders(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)


def _piece(name: str, digit_count: int) -> str:
    if name == "digits":
        d = "[0-9*-]"
        return f"(?P<digits>{d}(?: ?{d}){{{max(0, digit_count - 1)}}})"
    return {
        "stars": r"(?P<stars>\**)",
        "n": r"(?P<n>\d+)",
        "time": r"(?P<time>\d{1,3}(?::\d{2})?)",
        "radio": r"(?P<radio>(?:FM|AM|MW|LW|SW|UKW|CD|TAPE|AUX|USB|RADIO)\w*(?: .*)?)",
        "serial": r"(?P<serial>[A-Z0-9][A-Z0-9 -]{2,24})",
    }[name]


def to_regex(templates: list[str], digit_count: int = 4) -> re.Pattern:
    """One anchored regex matching any of the alternatives.

    Built once per distinct template list: a wait checks the display every
    time something happens, and a compiled pattern never changes.
    """
    return _to_regex(tuple(templates), digit_count)


@lru_cache(maxsize=1024)
def _to_regex(templates: tuple[str, ...], digit_count: int) -> re.Pattern:
    alternatives = []
    for tpl in templates:
        out, pos = [], 0
        tpl = " ".join(tpl.split())
        for m in PLACEHOLDER.finditer(tpl):
            out.append(re.escape(tpl[pos:m.start()]))
            out.append(_piece(m.group(1), digit_count))
            pos = m.end()
        out.append(re.escape(tpl[pos:]))
        rx = "".join(out).replace(r"\ ", " ")
        alternatives.append(rx.replace(" (?P<stars>", " ?(?P<stars>"))  # "CODE " loses its space at 0 stars
    return re.compile("^" + either(alternatives) + "$")


def either(patterns: list[str]) -> str:
    """Patterns joined as alternatives. Each may name the same groups ({n}, {digits}),
    which one regex cannot hold twice, so every group of pattern i gets the suffix
    ``__a{i}`` (unique even when the patterns were joined this way before);
    :func:`group` finds a placeholder under any suffix."""
    return _either(tuple(patterns))


@lru_cache(maxsize=1024)
def _either(patterns: tuple[str, ...]) -> str:
    renamed = patterns if len(patterns) == 1 else [
        re.sub(r"\(\?P<(\w+)>", lambda m, i=i: f"(?P<{m.group(1)}__a{i}>", p) for i, p in enumerate(patterns)]
    return "(?:" + "|".join(f"(?:{p})" for p in renamed) + ")"


def group(match: re.Match, name: str) -> str | None:
    """A placeholder's text from a match of a (possibly multi-alternative) template regex."""
    for key, value in match.groupdict().items():
        if value is not None and key.split("__a")[0] == name:
            return value
    return None


def render(template: str, digits: str = "", n: int | None = None, time: float | None = None,
           serial: str = "", stars: int = 0) -> str:
    """The text a unit shows for a template (for the simulator and the operator)."""
    def sub(m):
        name = m.group(1)
        if name == "digits":
            return digits
        if name == "n":
            return str(n if n is not None else 0)
        if name == "time":
            left = int(round(time or 0))
            return f"{left // 60}:{left % 60:02d}"
        if name == "radio":
            return RADIO_TEXT
        if name == "serial":
            return serial
        if name == "stars":
            return "*" * stars
        return m.group(0)

    return PLACEHOLDER.sub(sub, template)


def spoken(template: str) -> str:
    """A template as a technician reads it in a question: placeholders in words.

    >>> spoken("{n} SAFE"), spoken("{radio}"), spoken("CODE {stars}")
    ('N SAFE', 'the radio', 'CODE ****')
    """
    words = {"n": "N", "radio": "the radio", "time": "mm:ss", "digits": "1234", "serial": "its serial",
             "stars": "****"}
    return PLACEHOLDER.sub(lambda m: words.get(m.group(1), m.group(0)), template)
