"""Text that goes into XML (JUnit, the timeline SVG) and HTML (the run's page): always well formed.

A step name or a display line can hold any character a serial tap or a YAML escape
gives (``"\\x07"``), and XML 1.0 forbids most of C0 outright - not even ``&#7;`` may
stand for them - so one BEL made the JUnit file and the SVG unreadable. Each control
character becomes its Unicode control picture (BEL -> ␇), which a technician can still
read; C1 controls, lone surrogates and the noncharacters U+FFFE/U+FFFF become U+FFFD.

>>> escape("mode<scan\\x07 \\x00")
'mode&lt;scan␇ ␀'
>>> clean("tab\\tand\\nline")
'tab\\tand\\nline'
"""

from __future__ import annotations

import html
import re

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _picture(m: re.Match) -> str:
    c = ord(m.group())
    if c < 0x20:
        return chr(0x2400 + c)  # ␀ .. ␟
    return "\u2421" if c == 0x7F else "\ufffd"  # ␡ for DEL; C1, surrogates, noncharacters


def clean(text) -> str:
    """``text`` with every character XML 1.0 (or HTML) forbids replaced by one a reader can see."""
    text = str(text)
    return _FORBIDDEN.sub(_picture, text) if _FORBIDDEN.search(text) else text


def escape(text, quote: bool = True) -> str:
    """:func:`html.escape` of :func:`clean`: safe in XML and HTML text and attribute values."""
    return html.escape(clean(text), quote)
