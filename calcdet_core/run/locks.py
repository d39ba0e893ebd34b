"""One run per output, and outputs checked before any work: the guards around every command that writes.

:class:`OutputLock` holds ``<out>.lock`` (an exclusive ``flock``) for the whole run, so a second
run on the same ``--out`` stops at once and says who holds it (pid, host, start time). The kernel
drops a ``flock`` when its process dies, however it dies, so the lock of a killed run is taken
over without a question. :func:`check_output_file` and :func:`check_output_dir` refuse an output
of the wrong kind or in a folder that cannot be written, and :func:`check_not_input` an output that
is, or lies inside, one of the run's inputs, before anything is computed. Lock files are opened
without following links, so a link planted in the output folder cannot redirect calcdet's writes.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from calcdet_core.errors import InvalidInputError


class OutputLocked(InvalidInputError):
    """Another live run holds the output; the message names it."""


def lock_path(out: Path) -> Path:
    """``detections.csv`` -> ``detections.csv.lock``, next to the output it guards."""
    out = Path(out)
    return out.with_name(out.name + ".lock")


class OutputLock:
    """Exclusive use of an output path for one run (a context manager); released when the run ends or dies."""

    def __init__(self, out: Path, option: str = "--out") -> None:
        self.out = Path(out)
        self.path = lock_path(self.out)
        self.option = option
        self._fd: int | None = None

    def acquire(self) -> OutputLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except OSError as exc:
                if self.path.is_symlink():
                    raise InvalidInputError(f"{self.option} {self.out}: its lock file {self.path} is a symbolic "
                                            "link; calcdet never writes through links: remove it") from None
                raise InvalidInputError(f"{self.option} {self.out}: cannot create its lock file {self.path} "
                                        f"({exc.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_holder(fd)
                os.close(fd)
                raise OutputLocked(f"{self.option} {self.out} is in use by another calcdet run ({holder}); "
                                   "wait for it to finish or choose another output") from None
            # the file may have been removed by the run that held it between our open and our lock: retry
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "started": time.strftime("%Y-%m-%d %H:%M:%S %z"), "command": " ".join(sys.argv[:3])}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)  # while still locked: nobody can hold the file we remove
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode())
        return f"pid {info['pid']} on {info['host']}, started {info['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "holder unknown"


def _writable_folder(folder: Path, what: str) -> None:
    """The nearest existing folder at or above ``folder`` must be a folder this process may write."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise InvalidInputError(f"{what}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidInputError(f"{what}: cannot write in {existing} (permission denied)")


def check_output_file(path: Path, option: str = "--out") -> Path:
    """A file to write: not a folder, in a folder that exists or can be made, writable."""
    path = Path(path)
    what = f"{option} {path}"
    if path.is_dir():
        raise InvalidInputError(f"{what} is a folder; give a file name (e.g. {path / 'detections.csv'})")
    if path.exists() and not os.access(path, os.W_OK):
        raise InvalidInputError(f"{what}: the file exists and cannot be overwritten (permission denied)")
    _writable_folder(path.parent.resolve(), what)
    return path


def check_not_input(files: dict[str, Path | None], folders: dict[str, Path | None],
                    inputs: Iterable[Path | None]) -> None:
    """Refuse an output ({option: path}) that would write over or among the run's inputs (files or folders).

    An output file may not be an input, nor replace a file inside an input folder (an image, a
    dataset's table, a model file); an output folder may not be an input folder nor lie inside one,
    since what it holds (overlays, SR files, reports) would be read as inputs by the next run. A new
    file such as a detections CSV beside the DICOMs it came from is fine, as is an input inside an
    output folder.
    """
    sources = [Path(p).resolve() for p in inputs if p is not None and Path(p).exists()]
    outputs = [(option, Path(out), False) for option, out in files.items() if out is not None]
    outputs += [(option, Path(out), True) for option, out in folders.items() if out is not None]
    for option, out, is_folder in outputs:
        target = out.resolve()
        for source in sources:
            inside = source in target.parents
            if target == source or (inside and (is_folder or target.exists())):
                what = "is" if target == source else "lies inside"
                raise InvalidInputError(f"{option} {out} {what} the input {source}: calcdet never writes over or "
                                        "into its inputs; choose an output elsewhere")


def check_output_dir(path: Path, option: str = "--out") -> Path:
    """A folder to write into: a folder or nothing yet, writable or creatable."""
    path = Path(path)
    what = f"{option} {path}"
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"{what} is a file; give a folder")
    _writable_folder(path.resolve(), what)
    return path
