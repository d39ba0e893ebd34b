"""``calcdet serve``: a DICOM node that receives mammograms, finds microcalcifications and sends the findings back.

:mod:`~calcdet_core.node.spool` keeps every received instance and its state on disk,
:mod:`~calcdet_core.node.receive` is the storage SCP, :mod:`~calcdet_core.node.process` runs the
model on what arrived, :mod:`~calcdet_core.node.send` delivers the SRs, and
:mod:`~calcdet_core.node.serve` wires them together. The conformance statement is ``docs/dicom.md``.
"""
