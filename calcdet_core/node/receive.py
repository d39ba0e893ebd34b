"""The storage SCP: which instances are taken, which are refused, and with which status.

C-STORE statuses (PS3.4 B.2.3 and PS3.7 C), each with a log line naming the instance and the caller:

* ``0x0000`` Success: the instance is on disk in the spool; it will be answered. An instance received
  before (same SOP Instance UID) is acknowledged again and not processed twice.
* ``0x0122`` Refused, SOP Class not supported: not a Digital Mammography X-Ray image (a CT, an SR, ...).
* ``0xA700`` Refused, out of resources: the work queue stayed full for ``queue_wait`` seconds; send it later.
* ``0xA900`` Error, data set does not match SOP Class: no pixel data, an image under
  :data:`MIN_SIDE` pixels a side, pixel data shorter than its rows, columns and bits say, or a SOP
  Instance UID that differs from the request's.
* ``0xC210`` Error, cannot understand: the data set cannot be decoded (a truncated or damaged stream).
* ``0xC211`` Error, cannot understand: the instance could not be written to the spool (disk full).

C-ECHO is answered with Success. With ``allow`` set, an association from any other calling AE title is
rejected during negotiation (A-ASSOCIATE-RJ, "calling AE title not recognised").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from calcdet_core.node.spool import RECEIVED, InstanceRecord, Spool, checked_uid

LOG = logging.getLogger("calcdet.serve")

MAMMOGRAPHY_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1.2": "Digital Mammography X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.2.1": "Digital Mammography X-Ray Image Storage - For Processing",
}
TRANSFER_SYNTAXES = (
    "1.2.840.10008.1.2",       # Implicit VR Little Endian
    "1.2.840.10008.1.2.1",     # Explicit VR Little Endian
    "1.2.840.10008.1.2.1.99",  # Deflated Explicit VR Little Endian
    "1.2.840.10008.1.2.2",     # Explicit VR Big Endian
    "1.2.840.10008.1.2.4.50",  # JPEG Baseline
    "1.2.840.10008.1.2.4.51",  # JPEG Extended
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless, First-Order Prediction
    "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
    "1.2.840.10008.1.2.4.81",  # JPEG-LS Near-Lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000
    "1.2.840.10008.1.2.5",     # RLE Lossless
)
"""What the node accepts: the transfer syntaxes calcdet decodes (pydicom with pylibjpeg)."""

SUCCESS, SOP_CLASS_NOT_SUPPORTED, OUT_OF_RESOURCES = 0x0000, 0x0122, 0xA700
DOES_NOT_MATCH_SOP_CLASS, CANNOT_UNDERSTAND, CANNOT_SPOOL = 0xA900, 0xC210, 0xC211
MIN_SIDE = 32
"""Smallest image side, in pixels, the node takes: below it no microcalcification can be told from noise."""


def image_problem(ds: Any, requested_uid: str) -> str | None:
    """Why a decoded mammogram cannot be processed, or ``None``."""
    if str(ds.get("SOPInstanceUID", "")) != requested_uid:
        return f"its SOP Instance UID {ds.get('SOPInstanceUID')!r} is not the request's {requested_uid}"
    if "PixelData" not in ds:
        return "it holds no pixel data"
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if min(rows, columns) < MIN_SIDE:
        return f"its image is {rows}x{columns} pixels; calcdet needs at least {MIN_SIDE} a side"
    if not ds.file_meta.TransferSyntaxUID.is_encapsulated:
        expected = rows * columns * int(ds.get("SamplesPerPixel", 1)) * ((int(ds.get("BitsAllocated", 16)) + 7) // 8)
        if len(ds.PixelData) < expected:
            return f"its pixel data holds {len(ds.PixelData)} bytes, not the {expected} its header describes"
    return None


@dataclass
class Receiver:
    """The C-STORE and C-ECHO handlers; ``accept(record)`` hands a spooled instance on (may block on capacity)."""

    spool: Spool
    capacity: threading.BoundedSemaphore
    accept: Callable[[InstanceRecord], None]
    queue_wait: float = 30.0

    def handle_echo(self, event: Any) -> int:
        LOG.info("C-ECHO from %s", event.assoc.requestor.ae_title)
        return SUCCESS

    def handle_store(self, event: Any) -> int:
        caller = str(event.assoc.requestor.ae_title).strip()
        sop_class = str(event.request.AffectedSOPClassUID)
        uid = str(event.request.AffectedSOPInstanceUID)
        if sop_class not in MAMMOGRAPHY_SOP_CLASSES:
            LOG.warning("refused %s from %s: SOP class %s is not a digital mammogram (0x0122)", uid, caller,
                        sop_class)
            return SOP_CLASS_NOT_SUPPORTED
        try:
            uid = checked_uid(uid)
            ds = event.dataset
            ds.file_meta = event.file_meta
            problem = image_problem(ds, uid)
        except Exception as exc:  # any decoding failure is the sender's data, not our bug
            LOG.warning("refused %s from %s: the data set cannot be decoded (%s: %s) (0xC210)", uid, caller,
                        type(exc).__name__, exc)
            return CANNOT_UNDERSTAND
        if problem:
            LOG.warning("refused %s from %s: %s (0xA900)", uid, caller, problem)
            return DOES_NOT_MATCH_SOP_CLASS
        known = self.spool.record(uid)
        if known is not None:
            LOG.info("%s from %s: received before (%s); acknowledged, not processed again", uid, caller, known.state)
            return SUCCESS
        if not self.capacity.acquire(timeout=self.queue_wait):
            LOG.warning("refused %s from %s: the work queue is full (0xA700); the sender should retry", uid, caller)
            return OUT_OF_RESOURCES
        try:
            self.spool.store_instance(uid, event.encoded_dataset(include_meta=True))
            record = self.spool.save(InstanceRecord(uid, str(ds.get("StudyInstanceUID", "")), caller, RECEIVED))
        except OSError as exc:
            self.capacity.release()
            LOG.error("refused %s from %s: could not write it to the spool %s (%s) (0xC211)", uid, caller,
                      self.spool.root, exc)
            return CANNOT_SPOOL
        LOG.info("received %s from %s", uid, caller)
        self.accept(record)
        return SUCCESS


def application_entity(ae_title: str, allow: Sequence[str] = ()) -> Any:
    """The pynetdicom AE taking every storage SOP class (refusing non-mammograms in the handler, with a status)
    in :data:`TRANSFER_SYNTAXES`, and Verification."""
    from pynetdicom import AE, AllStoragePresentationContexts
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title=ae_title)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, list(TRANSFER_SYNTAXES))
    ae.add_supported_context(Verification)
    if allow:
        ae.require_calling_aet = list(allow)
    ae.maximum_pdu_size = 0  # no limit on what a peer sends per PDU
    return ae


def rejected(event: Any) -> None:
    LOG.warning("rejected an association from AE %s at %s: not in --allow", event.assoc.requestor.ae_title,
                event.assoc.requestor.address)
