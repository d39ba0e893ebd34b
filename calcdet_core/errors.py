"""The exception for problems the person running calcdet can fix.

``calcdet`` prints a :class:`CalcdetUserError`'s message and exits with status 1, without a
traceback: a missing or malformed file, a misspelled plugin or YAML key, a model directory
that fails its checks. Any other exception is a bug and keeps its traceback, so a broken
component is never mistaken for bad input. Every layer may raise it (I/O, engine, a plugin's
dataset adapter, through ``calcdet_core.api``); keep ``ValueError`` for a caller's programming
mistakes. It lives outside ``cli`` because the lower layers raise it.
"""

from __future__ import annotations


class CalcdetUserError(Exception):
    """Something the user can fix; the message names the file, plugin, option or YAML key at fault."""


class InvalidInputError(CalcdetUserError, ValueError):
    """A file or value the user gave that calcdet cannot use; still a ``ValueError`` for callers that catch one."""
