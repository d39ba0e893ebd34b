"""Inputs declaring an image far larger than any mammogram are refused from their header, before decoding."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian, generate_uid
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.errors import InvalidInputError
from calcdet_core.io.dicom import DIGITAL_MAMMOGRAPHY_STORAGE, read_dicom
from calcdet_core.io.dicom_header import MAX_HEADER_BYTES, read_header
from calcdet_core.io.images import image_header, read_image

SIZE_MESSAGE = (r"Rows x Columns x SamplesPerPixel x NumberOfFrames = 16000 x 16000 x 1 x 1 at BitsAllocated 16 "
                r"is 256 M pixels \(512 MB decoded\); calcdet reads at most 64 M pixels")


def write_deflated_dicom(path: Path, rows: int, columns: int, pixels: np.ndarray | None = None,
                         private_bytes: int = 0) -> Path:
    """A Deflated Explicit VR Little Endian mammogram; the pixel data (zeros unless given) streamed through zlib,
    after a private element of ``private_bytes`` zeros when asked."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = DIGITAL_MAMMOGRAPHY_STORAGE, generate_uid(), "MG"
    ds.Rows, ds.Columns, ds.SamplesPerPixel = rows, columns, 1
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 14, 13, 0
    ds.PhotometricInterpretation, ds.ImagerPixelSpacing = "MONOCHROME2", [0.07, 0.07]
    if private_bytes:
        ds.private_block(0x0009, "BLOAT", create=True).add_new(0x10, "OB", bytes(private_bytes))
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
    deflate = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    with path.open("wb") as f:
        f.write(head.getvalue())
        f.write(deflate.compress(body.getvalue() + struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, nbytes)))
        if pixels is not None:
            f.write(deflate.compress(pixels.astype("<u2").tobytes()))
        else:
            zeros = bytes(1 << 24)
            for start in range(0, nbytes, len(zeros)):
                f.write(deflate.compress(zeros[: min(len(zeros), nbytes - start)]))
        f.write(deflate.flush())
    return path


@pytest.fixture(scope="module")
def huge(tmp_path_factory) -> Path:
    """The reported file: under 1 MB on disk, 512 MB of pixels once inflated."""
    folder = tmp_path_factory.mktemp("huge")
    path = write_deflated_dicom(folder / "huge.dcm", 16000, 16000)
    assert path.stat().st_size < 4_000_000
    return path


def test_a_deflated_dicom_declaring_16000_squared_is_refused_naming_file_tags_and_limit(huge):
    with pytest.raises(InvalidInputError, match=rf"^{huge}: {SIZE_MESSAGE}"):
        read_dicom(huge)
    with pytest.raises(InvalidInputError, match=SIZE_MESSAGE):
        image_header(huge)  # the folder adapter's header reader refuses it as read_dicom does


def test_a_deflated_header_is_read_without_inflating_the_pixels(huge):
    header = read_header(huge)
    assert (header.Rows, header.Columns, header.Modality) == (16000, 16000, "MG")
    assert "PixelData" not in header and header.file_meta.TransferSyntaxUID == DeflatedExplicitVRLittleEndian


def test_a_deflated_header_that_inflates_past_its_limit_is_refused(tmp_path):
    path = write_deflated_dicom(tmp_path / "bloated.dcm", 40, 30, private_bytes=MAX_HEADER_BYTES + 1)
    with pytest.raises(InvalidInputError, match=rf"^{path}: the deflated DICOM header inflates past 64 MiB"):
        read_dicom(path)


def test_a_small_deflated_dicom_still_reads_exactly(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 1 << 14, (40, 30), dtype=np.uint16)
    image = read_dicom(write_deflated_dicom(tmp_path / "small.dcm", 40, 30, pixels))
    assert np.array_equal(image.pixels, pixels) and image.spacing_mm == (0.07, 0.07)


def test_detect_and_dataset_check_refuse_it_in_one_line(huge, tmp_path):
    runner = CliRunner()
    app = create_app()
    detect = runner.invoke(app, ["detect", "pipelines/gm.yaml", str(huge), "--out", str(tmp_path / "x.csv")])
    assert detect.exit_code == 1 and "Traceback" not in detect.output
    assert "16000 x 16000" in detect.output and "64 M pixels" in detect.output, detect.output
    root = tmp_path / "folder"
    root.mkdir()
    (root / "huge.dcm").symlink_to(huge)
    check = runner.invoke(app, ["dataset", "summary", "--dataset", "folder", "--root", str(root), "--check", "--json"])
    assert check.exit_code == 1 and "16000 x 16000" in check.output, check.output


def _png_declaring(path: Path, width: int, height: int) -> Path:
    """A real small PNG whose header is rewritten to declare ``width`` x ``height`` (valid CRC)."""
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data[12:29]  # chunk type and body
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("side", [9000, 16000])  # past calcdet's limit; past Pillow's own bomb limit too
def test_a_png_declaring_a_huge_image_is_refused_from_its_header(tmp_path, side):
    path = _png_declaring(tmp_path / f"big{side}.png", side, side)
    for read in (read_image, image_header):
        with pytest.raises(InvalidInputError, match=rf"^{path}: .*({side}x{side}|{side * side} pixels).*64 M"):
            read(path)
