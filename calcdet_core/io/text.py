"""Text files the user gives (pipelines, CSVs): UTF-8 or a one-line error naming the file.

Python's own messages for these (``UnicodeDecodeError`` from deep inside a parser) name neither
the file nor the line, so every reader of user text goes through here.
"""

from __future__ import annotations

from pathlib import Path

from calcdet_core.errors import InvalidInputError


def not_utf8(path: Path, what: str, exc: UnicodeDecodeError, data: bytes | None = None) -> InvalidInputError:
    """The error for ``path`` failing to decode; with ``data`` (the file's bytes) it gives the line."""
    where = f"byte 0x{exc.object[exc.start]:02x}"
    if data is not None:
        line = data.count(b"\n", 0, exc.start) + 1
        where += f" on line {line}"
    return InvalidInputError(f"{path}: the {what} is not UTF-8 text ({where}); save it as UTF-8")


def read_text_file(path: Path, what: str, max_bytes: int | None = None) -> str:
    """A UTF-8 text file's content; a missing, oversized or non-UTF-8 file is a one-line error naming it."""
    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise InvalidInputError(f"{path}: the {what} is {size} bytes, over the {max_bytes}-byte limit")
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, what, exc, data) from None
