"""The node's memory on disk: each received instance, what was made of it, and whether it went out.

``SPOOL/incoming/<SOP Instance UID>.dcm`` is the instance as received, written (and flushed to disk)
before the sender is told it was stored; ``SPOOL/outgoing/<SOP Instance UID>/`` the SR (and GSPS)
made from it; ``SPOOL/records/<SOP Instance UID>.json`` its state. Every file is written under a
temporary name and renamed into place, so a node killed at any moment leaves either the old or the
new version, never half of one; a restart reads the records and carries on from each one's state.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from calcdet_core.errors import InvalidInputError

RECEIVED, ANSWERED, SENT, UNSENT, SKIPPED = "received", "answered", "sent", "unsent", "skipped"
"""An instance's states: spooled; SR written; SR delivered; SR kept after the last send failed; not processed."""

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")


def checked_uid(uid: str) -> str:
    """A DICOM UID (digits and dots, at most 64 characters): what may name a file in the spool."""
    uid = str(uid).strip().rstrip("\0")
    if not (0 < len(uid) <= 64 and _UID.fullmatch(uid)):
        raise InvalidInputError(f"{uid!r} is not a DICOM UID")
    return uid


@dataclass
class InstanceRecord:
    """What the node knows of one received instance."""

    sop_instance_uid: str
    study_instance_uid: str
    calling_ae: str
    state: str = RECEIVED
    received_at: float = field(default_factory=time.time)
    outputs: list[str] = field(default_factory=list)
    """SR and GSPS files, relative to the spool."""
    reason: str = ""
    sends: int = 0
    """Deliveries of the outputs that the destination acknowledged (1 once sent)."""


def _write_atomically(path: Path, data: bytes) -> None:
    fd, staged = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise


class Spool:
    """The folders of one node: ``incoming``, ``outgoing`` and ``records`` under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        for name in ("incoming", "outgoing", "records"):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def instance_path(self, uid: str) -> Path:
        return self.root / "incoming" / f"{checked_uid(uid)}.dcm"

    def outgoing_dir(self, uid: str) -> Path:
        return self.root / "outgoing" / checked_uid(uid)

    def _record_path(self, uid: str) -> Path:
        return self.root / "records" / f"{checked_uid(uid)}.json"

    def store_instance(self, uid: str, data: bytes) -> Path:
        """The received bytes, on disk and flushed, before the instance is acknowledged."""
        path = self.instance_path(uid)
        _write_atomically(path, data)
        return path

    def record(self, uid: str) -> InstanceRecord | None:
        path = self._record_path(uid)
        if not path.is_file():
            return None
        return InstanceRecord(**json.loads(path.read_text(encoding="utf-8")))

    def save(self, record: InstanceRecord) -> InstanceRecord:
        _write_atomically(self._record_path(record.sop_instance_uid), json.dumps(asdict(record)).encode())
        return record

    def records(self) -> list[InstanceRecord]:
        """Every record, oldest received first; an unreadable one is named, never skipped silently."""
        found = []
        for path in sorted((self.root / "records").glob("*.json")):
            try:
                found.append(InstanceRecord(**json.loads(path.read_text(encoding="utf-8"))))
            except (ValueError, TypeError) as exc:
                raise InvalidInputError(f"{path}: not a calcdet serve record ({exc}); move it out of the "
                                        "spool") from None
        return sorted(found, key=lambda r: r.received_at)
