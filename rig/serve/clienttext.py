"""Text a client chose, on its way into a running job's records: a fixed vocabulary, or no digits.

The run's redactor masks the code wherever it appears as a substring, so text a
client can choose and read back is an oracle: an operator sent 80 digits as the
``why`` of a release and read which 4-digit window became ``####``. Here reasons
come from a fixed list, and every other client text (operator and token names,
a place's name) has every digit masked while a job holding a code runs, so what
a viewer sees never depends on the code.

>>> masked("ci-1234 (cli)", code_job=True), masked("ci-1234", code_job=False)
('ci-#### (cli)', 'ci-1234')
>>> release_reason("was released in labgrid")
'was released in labgrid'
"""

from __future__ import annotations

import re

from ..errors import ConfigError

RELEASE_REASONS = ("released", "was released in labgrid", "was forced off in labgrid",
                   "was acquired by another labgrid user")
_DIGIT = re.compile(r"\d")  # any script's digits: the redactor's own matching is not ours to predict


def masked(text: str, code_job: bool) -> str:
    """``text`` as it may enter a job's events: every digit ``#`` while a job holding a code runs."""
    return _DIGIT.sub("#", str(text)) if code_job else str(text)


def release_reason(why) -> str:
    """The ``why`` of ``POST /api/lab/release``: one of :data:`RELEASE_REASONS` (default ``released``)."""
    if why in (None, ""):
        return RELEASE_REASONS[0]
    if why not in RELEASE_REASONS:
        raise ConfigError(f"why is one of: {', '.join(RELEASE_REASONS)}")
    return why


__all__ = ["RELEASE_REASONS", "masked", "release_reason"]
