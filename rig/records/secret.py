"""The code: held in memory only, and never printed.

``Code`` has no ``__str__`` that shows the digits; the only way to them is
``reveal()``, called by code entry alone. ``Redactor`` scrubs event records
and screen text: display lines that show the entry digits are masked, and
the code's digits are replaced wherever they appear in text.

>>> c = Code("5173")
>>> str(c), repr(c)
('****', '<code ****>')
>>> Redactor(c).text("entered 5173 ok")
'entered #### ok'
"""

from __future__ import annotations

import re


class Code:
    __slots__ = ("_digits",)

    def __init__(self, digits: str):
        self._digits = digits.strip()

    def reveal(self) -> str:
        return self._digits

    def __len__(self) -> int:
        return len(self._digits)

    def __str__(self) -> str:
        return "*" * len(self._digits)

    def __repr__(self) -> str:
        return f"<code {self}>"

    def __reduce__(self):  # no pickling a code into a file by accident
        raise TypeError("a code is not serialisable")


class Redactor:
    """Masks the code (and entry digits shown on the display) in anything the rig writes."""

    def __init__(self, code: Code | None = None, entry_pattern: re.Pattern | None = None):
        self.code = code
        self.entry = entry_pattern

    def text(self, text):
        if not isinstance(text, str):
            return text
        if self.entry is not None and self.entry.search(" ".join(text.split())):
            text = re.sub(r"[0-9]", "#", text)
        if self.code is not None and len(self.code) and self.code.reveal() in text:
            text = text.replace(self.code.reveal(), "#" * len(self.code))
        return text

    def record(self, record: dict) -> dict:
        """Every string in an event, however deep (a code-request sheet's rows are lists of
        lists of text a technician typed: a VIN holding the code's digits is masked there too).

        >>> Redactor(Code("5173")).record({"kind": "sheet", "rows": [["VIN", "WVW5173"]], "t": 5173})
        {'kind': 'sheet', 'rows': [['VIN', 'WVW####']], 't': 5173}
        """
        return every_string(self.text, record)


def every_string(mask, value):
    """``value`` (an event, a list, a string ...) with ``mask`` applied to every string in it."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: every_string(mask, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [every_string(mask, v) for v in value]
    return value
