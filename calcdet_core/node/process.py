"""Running the model on what arrived: worker processes, one image each, then the answer files.

Each worker process loads the model once, detects and writes the answer files. Per image
(``per="image"``) an instance is detected as soon as it is spooled; per study (``per="study"``) a
study's instances wait until no new one has arrived for ``study_quiet`` seconds, then are detected
together and their answers sent in one association. An image the model cannot read (a damaged
compressed stream, a constant image) is recorded as skipped with the reason and logged: the sender
was already told it was stored, so it is never lost silently. The answer is what ``calcdet detect
--dicom-sr`` writes for the image, at the model's operating point.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from calcdet_core.contracts.data import Annotation, Detections, ImageRecord
from calcdet_core.io.output_writers import DetectedOutput, OutputWriter, RunIdentity
from calcdet_core.node.spool import ANSWERED, SKIPPED, InstanceRecord, Spool

LOG = logging.getLogger("calcdet.serve")


@dataclass(frozen=True)
class Answer:
    """How an image's detections become the files sent back: the ``dicom-sr`` writer made for this node's run."""

    writer: OutputWriter
    run: RunIdentity

    def write(self, source: Path, uid: str, found: Detections, folder: Path) -> list[Path]:
        return self.writer([DetectedOutput(uid, source, found)], folder)


_PIPELINE: Any = None
_ANSWER: Answer | None = None


def _load_model(parent: int, model: str, device: str, answer: Answer) -> None:
    """A worker's start: end with the node (even a SIGKILLed one), the model loaded once, how it answers."""
    from calcdet_core.contracts.devices import resolve_device
    from calcdet_core.run.executor import progress_shown, watch_parent
    from calcdet_core.run.workflows import load_runnable

    global _PIPELINE, _ANSWER
    watch_parent(parent, by_kernel=False)  # started from whichever association's thread submitted first
    _ANSWER = answer
    with progress_shown(False):
        _PIPELINE = load_runnable(Path(model))[0]
    if _PIPELINE.detector is not None:
        _PIPELINE.detector.to_device(resolve_device(device))


def _detect_and_answer(path: str, image_id: str, folder: str) -> tuple[int, list[Path]]:
    """Detections of one spooled instance, and the answer files written from them into ``folder``."""
    from calcdet_core.io.dicom import read_dicom
    from calcdet_core.run.detection import detect_record

    assert _ANSWER is not None
    record = ImageRecord(image_id, image_id, Path(path), Annotation(), partial(read_dicom, Path(path), image_id))
    found = detect_record(_PIPELINE, record)
    return len(found), _ANSWER.write(Path(path), image_id, found, Path(folder))


@dataclass
class Processor:
    """Detects every submitted instance in ``workers`` processes and hands each answered record to ``answered``
    (per study: a study's records together)."""

    model: Path
    spool: Spool
    capacity: threading.BoundedSemaphore
    answer: Answer
    answered: Callable[[list[InstanceRecord]], None]
    workers: int = 1
    device: str = "cpu"
    study_quiet: float | None = None
    _pool: ProcessPoolExecutor = field(init=False)
    _waiting: dict[str, list[InstanceRecord]] = field(init=False, default_factory=dict)
    _last_seen: dict[str, float] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._pool = ProcessPoolExecutor(self.workers, mp_context=get_context("spawn"), initializer=_load_model,
                                         initargs=(os.getpid(), str(self.model), self.device, self.answer))
        if self.study_quiet is not None:
            threading.Thread(target=self._release_quiet_studies, name="calcdet-study-gate", daemon=True).start()

    def submit(self, record: InstanceRecord) -> None:
        if self.study_quiet is None:
            self._start([record])
            return
        with self._lock:
            self._waiting.setdefault(record.study_instance_uid, []).append(record)
            self._last_seen[record.study_instance_uid] = time.monotonic()

    def _release_quiet_studies(self) -> None:
        assert self.study_quiet is not None
        while not self._stop.wait(min(0.2, self.study_quiet)):
            now = time.monotonic()
            with self._lock:
                ready = [s for s, seen in self._last_seen.items() if now - seen >= self.study_quiet]
                batches = [self._waiting.pop(s) for s in ready]
                for study in ready:
                    del self._last_seen[study]
            for batch in batches:
                LOG.info("study %s: no new image for %g s; detecting its %d image(s)", batch[0].study_instance_uid,
                         self.study_quiet, len(batch))
                self._start(batch)

    def _start(self, records: list[InstanceRecord]) -> None:
        done: list[InstanceRecord] = []
        remaining = [len(records)]
        for record in records:
            uid = record.sop_instance_uid
            future = self._pool.submit(_detect_and_answer, str(self.spool.instance_path(uid)), uid,
                                       str(self.spool.outgoing_dir(uid)))
            future.add_done_callback(partial(self._finish, record, done, remaining))

    def _finish(self, record: InstanceRecord, done: list[InstanceRecord], remaining: list[int],
                future: Future[tuple[int, list[Path]]]) -> None:
        uid = record.sop_instance_uid
        try:
            found, files = future.result()
            record.outputs = [f.relative_to(self.spool.root).as_posix() for f in files]
            record.state = ANSWERED
            self.spool.save(record)
            LOG.info("detected %s: %d detections; answer %s", uid, found, ", ".join(record.outputs))
        except BrokenProcessPool:
            LOG.error("%s: the worker process died; it stays received and is detected at the next start", uid)
        except Exception as exc:  # an image the model cannot use is recorded, never lost
            record.state, record.reason = SKIPPED, f"{type(exc).__name__}: {exc}"
            self.spool.save(record)
            LOG.warning("skipped %s: %s (acknowledged when received; nothing is sent back for it)", uid,
                        record.reason)
        finally:
            self.capacity.release()
        with self._lock:
            remaining[0] -= 1
            if record.state == ANSWERED:
                done.append(record)
            batch = list(done) if remaining[0] == 0 else []
        if batch:
            self.answered(batch)

    def close(self) -> None:
        """Stop taking studies, finish what was submitted (held studies are detected at the next start)."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=False)
