"""`calcdet serve` against a real PACS (Orthanc): round trip, refused inputs, load, SIGKILL and a destination down.

Orthanc's DICOM server listens on every interface (1.10 has no address setting), so these tests run
in a network namespace of their own whose only interface is loopback: the outer test
(:func:`test_node_in_a_loopback_only_network`) runs this module again under ``unshare --net`` with
``CALCDET_LOOPBACK_NET=1``, and there the other tests start Orthanc (temporary storage, free ports)
and the node as the commands a user runs. They skip with the reason where Orthanc is not installed
(Debian package ``orthanc``: ``make test`` installs it where it can) or no namespace can be made.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

ROOT = Path(__file__).resolve().parents[1]
INSIDE = os.environ.get("CALCDET_LOOPBACK_NET") == "1"
inside = pytest.mark.skipif(not INSIDE, reason="runs inside the loopback-only namespace that "
                                               "test_node_in_a_loopback_only_network starts")
MAMMOGRAM = "1.2.840.10008.5.1.4.1.1.1.2"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


def test_node_in_a_loopback_only_network():
    if INSIDE:
        pytest.skip("this is the run inside the namespace")
    if shutil.which("Orthanc") is None:
        pytest.skip("Orthanc is not installed (Debian package orthanc; `make test` installs it where it can)")
    if shutil.which("unshare") is None or shutil.which("ip") is None or subprocess.run(
            ["unshare", "--net", "true"], capture_output=True, check=False).returncode != 0:
        pytest.skip("no network namespace can be made here (unshare --net needs root or user namespaces), and "
                    "Orthanc is not started on an interface other than loopback")
    command = ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", sys.executable, "-m", "pytest",
               "-q", "-p", "no:cacheprovider", str(Path(__file__)), "-k", "not loopback_only_network"]
    result = subprocess.run(command, env={**os.environ, "CALCDET_LOOPBACK_NET": "1"}, cwd=ROOT, capture_output=True,
                            text=True, timeout=1200, check=False)
    report = result.stdout[-12000:] + result.stderr[-4000:]
    assert result.returncode == 0, report
    assert "skipped" not in result.stdout.splitlines()[-1], report  # every test ran inside


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


class Orthanc:
    """An Orthanc with its own storage, on free ports (or the DICOM port given)."""

    def __init__(self, folder: Path, dicom_port: int | None = None) -> None:
        self.folder, self.dicom_port, self.http_port = folder, dicom_port or free_port(), free_port()
        config = {"Name": "calcdet-test", "StorageDirectory": str(folder / "storage"),
                  "IndexDirectory": str(folder / "index"), "DicomAet": "ORTHANC", "DicomPort": self.dicom_port,
                  "HttpPort": self.http_port, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
                  "Plugins": [], "StableAge": 1}
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "orthanc.json").write_text(json.dumps(config))
        self.process = subprocess.Popen(["Orthanc", str(folder / "orthanc.json")], stdout=subprocess.DEVNULL,
                                        stderr=(folder / "orthanc.log").open("w"))
        wait_for(self._up, 30, "Orthanc's REST API")

    def _up(self) -> bool:
        try:
            self.rest("/system")
        except OSError:
            return False
        return True

    def rest(self, path: str) -> object:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=10) as response:
            body = response.read()
        return json.loads(body) if path != "/file" and not path.endswith("/file") else body

    def instances(self, modality: str) -> list[pydicom.Dataset]:
        """Every instance of series of ``modality``, read back from Orthanc."""
        found = []
        for series in self.rest("/series?expand"):  # type: ignore[union-attr]
            if series["MainDicomTags"].get("Modality") == modality:
                for instance in series["Instances"]:
                    found.append(pydicom.dcmread(io.BytesIO(self.rest(f"/instances/{instance}/file"))))  # type: ignore[arg-type]
        return found

    def count(self, modality: str) -> int:
        return sum(len(s["Instances"]) for s in self.rest("/series?expand")  # type: ignore[union-attr]
                   if s["MainDicomTags"].get("Modality") == modality)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


class Node:
    """``calcdet serve`` as a user starts it, with its log in a file."""

    def __init__(self, folder: Path, destination_port: int, *options: str, port: int | None = None) -> None:
        self.folder, self.port = folder, port or free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.args = [sys.executable, "-m", "calcdet_core", "serve", str(ROOT / "pipelines" / "gm.yaml"),
                     "--send-to", f"ORTHANC@127.0.0.1:{destination_port}", "--spool", str(folder / "spool"),
                     "--port", str(self.port), *options]
        self.log = folder / "node.log"
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.log.open("a"))
        wait_for(self._answers_echo, 60, f"the node to answer C-ECHO (log: {self.log})")

    def _answers_echo(self) -> bool:
        from pynetdicom import AE

        assert self.process.poll() is None, self.log.read_text()
        ae = AE(ae_title="TESTSCU")
        ae.add_requested_context("1.2.840.10008.1.1")
        assoc = ae.associate("127.0.0.1", self.port, ae_title="CALCDET")
        if not assoc.is_established:
            return False
        status = assoc.send_c_echo()
        assoc.release()
        return getattr(status, "Status", None) == 0

    def records(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted((self.folder / "spool" / "records").glob("*.json"))]

    def stop(self, kill: bool = False) -> None:
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.process.wait(timeout=120)

    def children(self) -> list[int]:
        """Process ids whose parent is the node (its detection workers), from /proc."""
        found = []
        for status in Path("/proc").glob("[0-9]*/status"):
            try:
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            except OSError:  # the process ended while being read
                continue
            if fields.get("PPid", "").strip() == str(self.process.pid):
                found.append(int(status.parent.name))
        return found


@contextmanager
def running(*things: Orthanc | Node) -> Iterator[None]:
    try:
        yield
    finally:
        for thing in things:
            if thing.process.poll() is None:
                thing.stop()


def send(port: int, datasets: list[pydicom.Dataset], calling: str = "TESTSCU") -> list[int | None]:
    """C-STORE each data set in one association; the statuses (``None``: no answer)."""
    from pynetdicom import AE

    ae = AE(ae_title=calling)
    for sop_class in sorted({str(ds.SOPClassUID) for ds in datasets}):
        ae.add_requested_context(sop_class)
    assoc = ae.associate("127.0.0.1", port, ae_title="CALCDET")
    assert assoc.is_established, f"no association with the node at port {port}"
    try:
        return [getattr(assoc.send_c_store(ds), "Status", None) for ds in datasets]
    finally:
        assoc.release()


def send_until_stored(port: int, datasets: list[pydicom.Dataset], timeout: float = 180) -> None:
    """Send each data set until the node acknowledges it, reassociating across the node's restarts."""
    from pynetdicom import AE

    ae = AE(ae_title="TESTSCU")
    ae.add_requested_context(MAMMOGRAM)
    end, remaining = time.monotonic() + timeout, list(datasets)
    while remaining:
        assert time.monotonic() < end, f"{len(remaining)} instance(s) never acknowledged"
        assoc = ae.associate("127.0.0.1", port, ae_title="CALCDET")
        if not assoc.is_established:
            time.sleep(0.3)
            continue
        try:
            while remaining and assoc.is_established:
                if getattr(assoc.send_c_store(remaining[0]), "Status", None) == 0:
                    remaining.pop(0)
        except Exception:  # the node died mid-C-STORE: associate again and send that one again
            time.sleep(0.3)
        finally:
            if assoc.is_established:
                assoc.release()


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    from calcdet_phantom.release import generate_release

    return generate_release(tmp_path_factory.mktemp("release"), 8, seed=2, height=256, width=192)


@pytest.fixture(scope="module")
def images(release) -> list[Path]:
    return sorted((release / "AllDICOMs").glob("*.dcm"))


@pytest.fixture(scope="module")
def expected(images, tmp_path_factory) -> tuple[float, dict[str, list[tuple[float, float]]]]:
    """``calcdet detect``'s CSV for the images, and a cutoff (its median score): the SR must hold its rows above."""
    out = tmp_path_factory.mktemp("csv") / "detections.csv"
    subprocess.run([sys.executable, "-m", "calcdet_core", "detect", str(ROOT / "pipelines" / "gm.yaml"),
                    *map(str, images), "--out", str(out)], check=True, capture_output=True)
    rows = list(csv.DictReader(out.open()))
    cutoff = sorted(float(r["score"]) for r in rows)[len(rows) // 2]
    by_stem: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        if float(r["score"]) >= cutoff:
            by_stem.setdefault(r["image_id"], []).append((float(r["x"]), float(r["y"])))
    return cutoff, by_stem


def copies(images: list[Path], n: int) -> list[pydicom.Dataset]:
    """``n`` distinct instances (new SOP Instance UIDs; a new study every four) made from the images."""
    made = []
    for i in range(n):
        ds = pydicom.dcmread(images[i % len(images)])
        if i % 4 == 0:
            study = generate_uid()
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.StudyInstanceUID = study
        made.append(ds)
    return made


@inside
def test_each_mammogram_gets_an_sr_and_gsps_in_the_pacs_with_the_csv_coordinates(tmp_path, images, expected):
    from calcdet_clusters.sr import read_detections

    cutoff, by_stem = expected
    pacs = Orthanc(tmp_path / "orthanc")
    node = Node(tmp_path / "node", pacs.dicom_port, "--min-score", repr(cutoff), "--gsps", "--workers", "2")
    with running(node, pacs):
        assert send(node.port, [pydicom.dcmread(p) for p in images]) == [0] * len(images)
        wait_for(lambda: pacs.count("SR") == len(images) and pacs.count("PR") == len(images), 120,
                 f"{len(images)} SRs and GSPSs in Orthanc")
        stems = {str(pydicom.dcmread(p).SOPInstanceUID): p.stem for p in images}
        for sr in pacs.instances("SR"):
            path = tmp_path / f"{sr.SOPInstanceUID}.dcm"
            sr.save_as(path)
            back = read_detections(path)
            (referenced,) = back["referenced"]
            assert sorted(map(tuple, back["xy"].tolist())) == sorted(by_stem.get(stems.pop(referenced), []))
        assert stems == {}  # one SR per image, each referencing its own
        assert {r["state"] for r in node.records()} == {"sent"}


@inside
def test_refused_instances_get_their_status_and_a_log_line_and_the_node_keeps_serving(tmp_path, images, expected):
    from pynetdicom import AE

    pacs = Orthanc(tmp_path / "orthanc")
    node = Node(tmp_path / "node", pacs.dicom_port, "--min-score", repr(expected[0]), "--allow", "TESTSCU")
    ct, short, tiny, good = (copies(images, 4)[i] for i in range(4))
    ct.SOPClassUID = ct.file_meta.MediaStorageSOPClassUID = CT_IMAGE
    short.PixelData = short.PixelData[:1000]
    tiny.Rows, tiny.Columns, tiny.PixelData = 1, 1, b"\0\0"
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(images[0].read_bytes()[:5000])  # cut inside the pixel data
    with running(node, pacs):
        assert send(node.port, [ct]) == [0x0122]
        assert send(node.port, [short, tiny]) == [0xA900, 0xA900]
        ae = AE(ae_title="TESTSCU")
        ae.add_requested_context(MAMMOGRAM)
        assoc = ae.associate("127.0.0.1", node.port, ae_title="CALCDET")
        assert getattr(assoc.send_c_store(truncated), "Status", None) in (0xC210, 0xA900)
        assoc.release()
        intruder = AE(ae_title="INTRUDER")
        intruder.add_requested_context(MAMMOGRAM)
        assert intruder.associate("127.0.0.1", node.port, ae_title="CALCDET").is_rejected
        assert send(node.port, [good]) == [0]
        wait_for(lambda: pacs.count("SR") == 1, 60, "the good image's SR")
    log = node.log.read_text()
    for line in ("is not a digital mammogram (0x0122)", "pixel data holds 1000 bytes", "1x1 pixels",
                 "rejected an association from AE INTRUDER"):
        assert line in log, log
    assert [r["sop_instance_uid"] for r in node.records()] == [str(good.SOPInstanceUID)]


@inside
def test_200_instances_over_4_associations_are_each_answered_once(tmp_path, images, expected):
    pacs = Orthanc(tmp_path / "orthanc")
    node = Node(tmp_path / "node", pacs.dicom_port, "--min-score", repr(expected[0]), "--workers", "2", "--queue", "8",
                "--queue-wait", "120")
    made = copies(images, 200)
    statuses: list[int | None] = []
    with running(node, pacs):
        start = time.monotonic()
        threads = [threading.Thread(target=lambda part=made[i::4]: statuses.extend(send(node.port, part)))
                   for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wait_for(lambda: pacs.count("SR") == 200, 600, "200 SRs in Orthanc")
        seconds = time.monotonic() - start
        referenced = {str(ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
                          .ReferencedSOPSequence[0].ReferencedSOPInstanceUID) for ds in pacs.instances("SR")}
    assert statuses == [0] * 200
    records = node.records()
    assert len(records) == 200 and {r["state"] for r in records} == {"sent"} and {r["sends"] for r in records} == {1}
    assert referenced == {str(ds.SOPInstanceUID) for ds in made}
    print(f"200 instances in {seconds:.1f} s: {200 / seconds:.1f} instances/s (receive, detect, send)")


@inside
def test_a_node_killed_mid_stream_loses_nothing_and_answers_each_instance_once(tmp_path, images, expected):
    pacs = Orthanc(tmp_path / "orthanc")
    node = Node(tmp_path / "node", pacs.dicom_port, "--min-score", repr(expected[0]), "--workers", "2")
    made = copies(images, 40)
    with running(node, pacs):
        sender = threading.Thread(target=send_until_stored, args=(node.port, made))
        sender.start()
        wait_for(lambda: len(node.records()) >= 12, 120, "12 instances received before the kill")
        workers = node.children()
        assert workers, "the node detects in worker processes"
        node.stop(kill=True)
        wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 30,
                 "the killed node's workers ended with it")
        node.start()  # same spool, same port: resumes
        sender.join()
        wait_for(lambda: pacs.count("SR") == 40, 300, "40 SRs in Orthanc after the restart")
        time.sleep(2)  # nothing more arrives: no second answer
        assert pacs.count("SR") == 40
    records = node.records()
    assert len(records) == 40 and {r["state"] for r in records} == {"sent"}
    assert "resumed" in node.log.read_text() or len(records) == 40


@inside
def test_a_destination_down_keeps_the_sr_for_resend(tmp_path, images, expected):
    port = free_port()  # nothing listens there yet
    node = Node(tmp_path / "node", port, "--min-score", repr(expected[0]), "--retries", "2", "--backoff", "0.1")
    with running(node):
        assert send(node.port, copies(images, 3)) == [0, 0, 0]
        wait_for(lambda: [r["state"] for r in node.records()] == ["unsent"] * 3, 120, "3 answers recorded unsent")
    assert "could not send" in node.log.read_text()
    pacs = Orthanc(tmp_path / "orthanc", dicom_port=port)
    with running(pacs):
        resent = subprocess.run([sys.executable, "-m", "calcdet_core", "serve", str(ROOT / "pipelines" / "gm.yaml"),
                                 "--resend", "--spool", str(tmp_path / "node" / "spool"),
                                 "--send-to", f"ORTHANC@127.0.0.1:{port}"], capture_output=True, text=True, check=False)
        assert resent.returncode == 0, resent.stderr
        assert "sent the answers of 3 instance(s); 0 still unsent" in resent.stdout
        assert pacs.count("SR") == 3
    assert {r["state"] for r in node.records()} == {"sent"}


@inside
def test_per_study_waits_for_a_quiet_study_and_answers_it_together(tmp_path, images, expected):
    pacs = Orthanc(tmp_path / "orthanc")
    node = Node(tmp_path / "node", pacs.dicom_port, "--min-score", repr(expected[0]), "--per", "study",
                "--study-quiet", "1")
    with running(node, pacs):
        assert send(node.port, copies(images, 8)) == [0] * 8  # two studies of four
        wait_for(lambda: pacs.count("SR") == 8, 120, "8 SRs in Orthanc")
    log = node.log.read_text()
    assert log.count("no new image for 1 s; detecting its 4 image(s)") == 2, log
