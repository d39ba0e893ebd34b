"""Delivering the answers: C-STORE to the destination, retried with back-off, kept on disk when it stays down.

A batch (one image's answer, or a study's, with those that queued up meanwhile) goes in one
association. A failure (no association, a refused context, a non-success status) is retried after
``backoff``, ``2 * backoff``, ... seconds, ``retries`` times; then each instance is recorded
``unsent`` with a log line, its files stay in ``SPOOL/outgoing`` and ``calcdet serve --resend``
delivers them later (as does the next start).
An answer's UIDs are derived from its image's and the model's (the dicom-sr writer's rule), so
sending it again after a crash stores the same instance again, not a second one.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from calcdet_core.errors import InvalidInputError
from calcdet_core.node.spool import SENT, UNSENT, InstanceRecord, Spool

LOG = logging.getLogger("calcdet.serve")

MAX_BATCH = 64
"""Instances whose answers go in one association at most."""
_DESTINATION = re.compile(r"(?P<ae>[^@]{1,16})@(?P<host>[^:]+):(?P<port>\d{1,5})")


@dataclass(frozen=True)
class Destination:
    """Where answers go: ``AE@HOST:PORT``."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Destination:
        match = _DESTINATION.fullmatch(text.strip())
        if match is None or not 0 < int(match["port"]) < 65536:
            raise InvalidInputError(f"--send-to {text!r}: expected AE@HOST:PORT, e.g. PACS@127.0.0.1:4242 "
                                    "(an AE title of at most 16 characters)")
        return cls(match["ae"].strip(), match["host"], int(match["port"]))

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def store(files: list[Path], destination: Destination, ae_title: str) -> str | None:
    """C-STORE every file in one association; ``None`` when all were stored, else what went wrong."""
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE

    datasets = [pydicom.dcmread(f) for f in files]
    ae = AE(ae_title=ae_title)
    for sop_class in sorted({str(ds.SOPClassUID) for ds in datasets}):
        ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
    assoc = ae.associate(destination.host, destination.port, ae_title=destination.ae_title)
    if not assoc.is_established:
        return f"no association with {destination}"
    try:
        for path, ds in zip(files, datasets, strict=True):
            status = assoc.send_c_store(ds)
            code = getattr(status, "Status", None)
            if code is None:
                return f"{path.name}: no response from {destination}"
            if code != 0x0000 and not 0xB000 <= code <= 0xBFFF:  # success, or a warning: stored
                return f"{path.name}: {destination} answered status 0x{code:04X}"
    finally:
        assoc.release()
    return None


@dataclass
class Sender:
    """A thread delivering answered batches in order of arrival."""

    spool: Spool
    destination: Destination
    ae_title: str
    retries: int = 5
    backoff: float = 2.0
    _queue: queue.Queue[list[InstanceRecord] | None] = field(init=False, default_factory=queue.Queue)
    _thread: threading.Thread = field(init=False)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name="calcdet-sender", daemon=True)
        self._thread.start()

    def submit(self, records: list[InstanceRecord]) -> None:
        self._queue.put(records)

    def _run(self) -> None:
        """Deliver batches as they come; those that queued up meanwhile go together, in one association."""
        closing = False
        while not closing and (batch := self._queue.get()) is not None:
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    closing = True
                    break
                batch = batch + more
            self.deliver(batch)

    def deliver(self, batch: list[InstanceRecord]) -> bool:
        """Send a batch's files, retrying; record each instance ``sent`` or ``unsent``. True when sent."""
        files = [self.spool.root / name for record in batch for name in record.outputs]
        problem = "nothing tried"
        for attempt in range(self.retries + 1):
            if attempt:
                wait = self.backoff * 2 ** (attempt - 1)
                LOG.warning("sending %d file(s) to %s failed (%s); try %d of %d in %g s", len(files),
                            self.destination, problem, attempt + 1, self.retries + 1, wait)
                if self._stop.wait(wait):
                    break
            try:
                problem = store(files, self.destination, self.ae_title) or ""
            except (OSError, RuntimeError, ValueError) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if not problem:
                for record in batch:
                    record.state, record.sends, record.reason = SENT, record.sends + 1, ""
                    self.spool.save(record)
                LOG.info("sent %s to %s", ", ".join(Path(f).name for f in files), self.destination)
                return True
        for record in batch:
            record.state, record.reason = UNSENT, problem
            self.spool.save(record)
        LOG.error("could not send the answer(s) of %s to %s (%s); kept in %s: `calcdet serve --resend` (or the next "
                  "start) sends them", ", ".join(r.sop_instance_uid for r in batch), self.destination, problem,
                  self.spool.root / "outgoing")
        return False

    def close(self, wait: bool = True) -> None:
        """Deliver what is queued (``wait``), or stop retrying at once."""
        if not wait:
            self._stop.set()
        self._queue.put(None)
        self._thread.join()


def pending_batches(records: list[InstanceRecord], by_study: bool) -> list[list[InstanceRecord]]:
    """Answered or unsent records as batches to send: one per image, or per study."""
    waiting = [r for r in records if r.state in ("answered", UNSENT)]
    if not by_study:
        return [[r] for r in waiting]
    studies: dict[str, list[InstanceRecord]] = {}
    for record in waiting:
        studies.setdefault(record.study_instance_uid, []).append(record)
    return list(studies.values())


