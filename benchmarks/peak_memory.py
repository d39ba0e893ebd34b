"""Peak memory of refusing small files that declare huge contents: a deflated DICOM and a skops schema.

Each case runs in a fresh interpreter; its peak resident memory is the child's own ``ru_maxrss``
(``os.wait4``). The cases:

- ``detect huge.dcm``: ``calcdet detect pipelines/gm.yaml huge.dcm --out x.csv`` on a Deflated
  Explicit VR Little Endian file (about 0.5 MB) declaring a 16000x16000 16-bit image;
- ``skops schema``: the SVM plugin's loader (``types_in_file``) on a skops file (about 0.3 MB) whose
  ``schema.json`` inflates to ``--schema-mib`` MiB;
- ``import calcdet_core.cli.app``: the floor every command pays.

With ``--reference-tree DIR`` (a checkout of another revision, ``git worktree add /tmp/before REV``)
every case runs again with that tree's core and plugins first on ``PYTHONPATH``, and the JSON adds
this tree's peak over the reference's.

    .venv/bin/python benchmarks/peak_memory.py --reference-tree /tmp/mem-before
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SKOPS_CODE = """
import sys
from calcdet_svm.persist import types_in_file
try:
    types_in_file(sys.argv[1])
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(1)
"""


def write_huge_dicom(path: Path, rows: int = 16000, columns: int = 16000) -> Path:
    """A deflated mammogram declaring ``rows`` x ``columns`` at 16 bits, its zero pixels streamed through zlib."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_dataset, write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = "1.2.840.10008.5.1.4.1.1.1.2", generate_uid(), "MG"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, columns, 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 14, 13, 0
    ds.PhotometricInterpretation, ds.ImagerPixelSpacing = "MONOCHROME2", [0.07, 0.07]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    head, body = DicomBytesIO(), DicomBytesIO()
    for buffer in (head, body):
        buffer.is_little_endian, buffer.is_implicit_VR = True, False
    head.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(head, meta)
    write_dataset(body, ds)
    nbytes = rows * columns * 2
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(1 << 24)
    with path.open("wb") as f:
        f.write(head.getvalue())
        f.write(deflate.compress(body.getvalue() + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, nbytes)))
        for start in range(0, nbytes, len(zeros)):
            f.write(deflate.compress(zeros[: min(len(zeros), nbytes - start)]))
        f.write(deflate.flush())
    return path


def write_huge_skops(path: Path, schema_mib: int) -> Path:
    """A skops archive whose schema.json is ``schema_mib`` MiB of spaces (written in chunks)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open("schema.json", "w", force_zip64=True) as schema:
        chunk = b" " * (1 << 20)
        for _ in range(schema_mib):
            schema.write(chunk)
    return path


def _environment(tree: Path) -> dict[str, str]:
    """``tree``'s core and every plugin and library of it first on the path (entry points name their modules)."""
    folders = [tree, *sorted(p.parent for p in tree.glob("plugins/*/*/pyproject.toml")),
               *sorted(p.parent for p in tree.glob("libraries/*/pyproject.toml"))]
    path = os.pathsep.join(filter(None, [*map(str, folders), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def peak(args: list[str], tree: Path) -> dict[str, object]:
    """Peak resident MB of ``python ARGS`` run in ``tree``, its exit status and the last line it wrote on stderr."""
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, *args], cwd=tree, env=_environment(tree), stdout=subprocess.DEVNULL,
                                 stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    return {"peak_mb": round(usage.ru_maxrss / 1024, 1), "exit": os.waitstatus_to_exitcode(status),
            "said": lines[-1][:300] if lines else ""}


def measure(tree: Path, files: dict[str, Path], scratch: Path) -> dict[str, dict[str, object]]:
    cases = {
        "import calcdet_core.cli.app": ["-c", "import calcdet_core.cli.app"],
        "detect huge.dcm": ["-m", "calcdet_core", "detect", "pipelines/gm.yaml", str(files["dicom"]),
                            "--out", str(scratch / f"x-{abs(hash(tree))}.csv")],
        "skops schema": ["-c", SKOPS_CODE, str(files["skops"])],
    }
    return {name: peak(args, tree) for name, args in cases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference-tree", type=Path, help="Checkout of another revision to compare with.")
    parser.add_argument("--tree", type=Path, default=REPO, help="The tree measured (default: this checkout).")
    parser.add_argument("--schema-mib", type=int, default=512, help="What the skops schema inflates to (MiB).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="calcdet-peak-") as folder:
        scratch = Path(folder)
        files = {"dicom": write_huge_dicom(scratch / "huge.dcm"),
                 "skops": write_huge_skops(scratch / "model.skops", args.schema_mib)}
        result: dict[str, object] = {
            "files_on_disk_kb": {k: round(p.stat().st_size / 1024) for k, p in files.items()},
            "schema_mib": args.schema_mib,
            "this_tree": measure(args.tree.resolve(), files, scratch),
        }
        if args.reference_tree:
            reference = measure(args.reference_tree.resolve(), files, scratch)
            result["reference_tree"] = {"path": str(args.reference_tree), **reference}
            result["this_over_reference"] = {
                name: round(case["peak_mb"] / reference[name]["peak_mb"], 3)  # type: ignore[operator]
                for name, case in result["this_tree"].items()}  # type: ignore[attr-defined]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
