"""Throughput of ``calcdet serve`` (receive, detect, send the SR back) against ``calcdet detect --dicom-sr``.

A phantom release is sent to the node by C-STORE (one association); the node answers each image
with an SR, received by a storage SCP in this process that only counts (so the destination's own
cost is not measured). The reference is ``calcdet detect --dicom-sr`` on the same files with as
many workers, which does the same detection and SR writing from disk. Both run the shipped
``gm`` pipeline (nothing to train) with findings from the median detection score. Prints JSON:
instances per second of each, per worker count, and the node's over detect's.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/dicom_node.py --images 40
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pydicom
from pynetdicom import AE, AllStoragePresentationContexts, evt

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = ROOT / "pipelines" / "gm.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def calcdet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True, check=True)


class Sink:
    """A storage SCP that counts what it receives."""

    def __init__(self) -> None:
        self.port, self.received, self.done = free_port(), 0, threading.Event()
        self.expected = 0
        ae = AE(ae_title="SINK")
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax)
        self.server = ae.start_server(("127.0.0.1", self.port), block=False,
                                      evt_handlers=[(evt.EVT_C_STORE, self._store)])

    def _store(self, event) -> int:  # type: ignore[no-untyped-def]
        self.received += 1
        if self.received >= self.expected:
            self.done.set()
        return 0x0000


def node_seconds(files: list[Path], workers: int, cutoff: float, work: Path, sink: Sink) -> float:
    """Seconds from the first C-STORE until the last SR reached the sink."""
    port = free_port()
    log = (work / f"node-{workers}.log").open("w")
    node = subprocess.Popen([sys.executable, "-m", "calcdet_core", "serve", str(PIPELINE), "--min-score", repr(cutoff),
                             "--send-to", f"SINK@127.0.0.1:{sink.port}", "--port", str(port), "--workers",
                             str(workers), "--spool", str(work / f"spool-{workers}"), "--queue", "64"],
                            stderr=log, stdout=subprocess.DEVNULL)
    try:
        ae = AE(ae_title="BENCH")
        ae.add_requested_context("1.2.840.10008.5.1.4.1.1.1.2")
        ae.add_requested_context("1.2.840.10008.1.1")
        while not (assoc := ae.associate("127.0.0.1", port, ae_title="CALCDET")).is_established:
            time.sleep(0.2)  # the node is still loading
        assoc.send_c_echo()
        datasets = [pydicom.dcmread(f) for f in files]
        time.sleep(3)  # the workers have loaded the model: what is timed is the steady state
        sink.received, sink.expected = 0, len(files)
        sink.done.clear()
        start = time.perf_counter()
        for ds in datasets:
            assert assoc.send_c_store(ds).Status == 0
        assoc.release()
        if not sink.done.wait(600):
            raise RuntimeError(f"only {sink.received} of {len(files)} SRs arrived (log: {log.name})")
        return time.perf_counter() - start
    finally:
        node.terminate()
        node.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--height", type=int, default=1024)
    parser.add_argument("--width", type=int, default=800)
    parser.add_argument("--workers", default="1,2", help="Worker counts, comma-separated.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calcdet-node-bench-") as tmp:
        work = Path(tmp)
        calcdet("phantom", str(work / "release"), "--images", str(args.images), "--height", str(args.height),
                "--width", str(args.width))
        files = sorted((work / "release" / "AllDICOMs").glob("*.dcm"))
        calcdet("detect", str(PIPELINE), *map(str, files), "--out", str(work / "all.csv"))
        scores = sorted(float(r["score"]) for r in csv.DictReader((work / "all.csv").open()))
        cutoff = scores[len(scores) // 2]
        sink = Sink()
        rows = {}
        for workers in map(int, args.workers.split(",")):
            start = time.perf_counter()
            calcdet("detect", str(PIPELINE), *map(str, files), "--out", str(work / f"d{workers}.csv"), "--min-score",
                    repr(cutoff), "--dicom-sr", str(work / f"sr-{workers}"), "--workers", str(workers))
            detect = time.perf_counter() - start
            node = node_seconds(files, workers, cutoff, work, sink)
            rows[workers] = {"node_instances_per_second": len(files) / node,
                             "detect_instances_per_second": len(files) / detect,
                             "node_over_detect": detect / node}
        sink.server.shutdown()
    print(json.dumps({"benchmark": "dicom_node", "images": len(files), "size": [args.height, args.width],
                      "pipeline": "gm", "cpu_count": os.cpu_count(), "by_workers": rows}, indent=2))


if __name__ == "__main__":
    main()
