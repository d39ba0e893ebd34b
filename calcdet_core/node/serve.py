"""``calcdet serve``: the receiver, the processor and the sender of one node, and what a restart resumes."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calcdet_core.errors import InvalidInputError
from calcdet_core.node.process import Answer, Processor
from calcdet_core.node.receive import Receiver, application_entity, rejected
from calcdet_core.node.send import Destination, Sender, pending_batches
from calcdet_core.node.spool import RECEIVED, Spool

LOG = logging.getLogger("calcdet.serve")


@dataclass(frozen=True)
class NodeSettings:
    """Everything ``calcdet serve`` is told on its command line."""

    model: Path
    spool: Path
    destination: Destination
    ae_title: str = "CALCDET"
    host: str = "127.0.0.1"
    port: int = 11112
    workers: int = 1
    queue: int = 16
    queue_wait: float = 30.0
    per_study_quiet: float | None = None
    gsps: bool = False
    allow: tuple[str, ...] = ()
    min_score: str = "auto"
    retries: int = 5
    backoff: float = 2.0
    device: str = "cpu"


def answer_for(settings: NodeSettings) -> Answer:
    """The dicom-sr writer and the run it reports, checked before the node takes any instance."""
    from calcdet_core.io.output_writers import prepare_writer, run_identity
    from calcdet_core.run.executor import progress_shown
    from calcdet_core.run.workflows import findings_score, load_runnable

    with progress_shown(False):
        pipeline, _ = load_runnable(settings.model)
    threshold = findings_score(settings.min_score, settings.model, needed=True)
    run = run_identity(settings.model, pipeline.spec.name, pipeline.evaluators, threshold)
    prepared = prepare_writer("dicom-sr", settings.spool / "outgoing", run, {"gsps": settings.gsps})
    return Answer(prepared.writer, run)


def resend(spool_dir: Path, destination: Destination, ae_title: str, by_study: bool = False, retries: int = 2,
           backoff: float = 2.0) -> tuple[int, int]:
    """Send every answer kept in the spool (answered or unsent); (instances sent, instances still unsent)."""
    spool = Spool(spool_dir)
    sender = Sender(spool, destination, ae_title, retries, backoff)
    sent = unsent = 0
    try:
        for batch in pending_batches(spool.records(), by_study):
            if sender.deliver(batch):
                sent += len(batch)
            else:
                unsent += len(batch)
    finally:
        sender.close()
    return sent, unsent


def serve(settings: NodeSettings, stop: threading.Event | None = None) -> None:
    """Run the node until ``stop`` is set (SIGINT or SIGTERM when not given); then finish what was received."""
    answer = answer_for(settings)
    spool = Spool(settings.spool)
    capacity = threading.BoundedSemaphore(settings.queue)
    sender = Sender(spool, settings.destination, settings.ae_title, settings.retries, settings.backoff)
    processor = Processor(settings.model, spool, capacity, answer, sender.submit, settings.workers, settings.device,
                          settings.per_study_quiet)
    resumed = _resume(spool, processor, sender, capacity, settings.per_study_quiet is not None)
    receiver = Receiver(spool, capacity, processor.submit, settings.queue_wait)
    ae = application_entity(settings.ae_title, settings.allow)
    from pynetdicom import evt

    handlers: list[Any] = [(evt.EVT_C_STORE, receiver.handle_store), (evt.EVT_C_ECHO, receiver.handle_echo),
                           (evt.EVT_REJECTED, rejected)]
    server = ae.start_server((settings.host, settings.port), block=False, evt_handlers=handlers)
    stop = stop or _stop_on_signals()
    LOG.info("listening as %s on %s:%d with %d worker(s); answers to %s; model %s (%s); spool %s%s",
             settings.ae_title, settings.host, settings.port, settings.workers, settings.destination, settings.model,
             answer.run.algorithm, settings.spool, f"; resumed {resumed} instance(s)" if resumed else "")
    try:
        stop.wait()
    finally:
        LOG.info("stopping: no new association; finishing what was received")
        server.shutdown()
        processor.close()
        sender.close()
        LOG.info("stopped")


def _resume(spool: Spool, processor: Processor, sender: Sender, capacity: threading.BoundedSemaphore,
            by_study: bool) -> int:
    """Detect what was received and not answered, send what was answered and not sent: a restart loses nothing."""
    records = spool.records()
    for record in records:
        if record.state == RECEIVED:
            if not spool.instance_path(record.sop_instance_uid).is_file():
                raise InvalidInputError(f"{spool.root}: the record of {record.sop_instance_uid} says received, but "
                                        "its instance file is gone")
            capacity.acquire()  # blocks only when more were waiting than the queue holds
            processor.submit(record)
    batches = pending_batches(records, by_study)
    for batch in batches:
        sender.submit(batch)
    return sum(r.state == RECEIVED for r in records) + sum(len(b) for b in batches)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop
