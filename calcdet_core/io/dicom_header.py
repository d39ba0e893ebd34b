"""A DICOM file's header read without its pixel data, so that what it declares is checked before any decoding.

pydicom inflates a whole Deflated Explicit VR Little Endian file before it parses one element, so a
small deflated file declaring a huge image costs its full decoded size even with
``stop_before_pixels``. Here a deflated file is inflated only as far as the header reaches.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import read_dataset, read_preamble
from pydicom.uid import DeflatedExplicitVRLittleEndian

from calcdet_core.errors import InvalidInputError

MAX_HEADER_BYTES = 64 * 2**20
"""The most a deflated file's header may inflate to before its pixel data (real headers are kilobytes)."""

PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)
"""Float Pixel Data, Double Float Pixel Data, Pixel Data: where a header ends."""

_CHUNK = 1 << 16


class _Inflating(io.RawIOBase):
    """The inflated dataset of a deflated file, inflated only as far as it is read (kept, for pydicom's seeks)."""

    def __init__(self, raw: BinaryIO, path: Path) -> None:
        self._raw, self._path = raw, path
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self._data = bytearray()
        self._pos = 0
        self._ended = False

    def _fill(self, end: int) -> None:
        while len(self._data) < end and not self._ended:
            pending = self._inflater.unconsumed_tail or self._raw.read(_CHUNK)
            if not pending:
                self._data += self._inflater.flush()
                self._ended = True
                break
            self._data += self._inflater.decompress(pending, _CHUNK)
            if len(self._data) > MAX_HEADER_BYTES:
                raise InvalidInputError(f"{self._path}: the deflated DICOM header inflates past "
                                        f"{MAX_HEADER_BYTES // 2**20} MiB before its pixel data; not a mammogram")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            raise io.UnsupportedOperation("reading a deflated dataset to its end is what this avoids")
        self._fill(self._pos + size)
        chunk = bytes(self._data[self._pos:self._pos + size])
        self._pos += len(chunk)
        return chunk

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos}.get(whence)
        if base is None:
            raise io.UnsupportedOperation("no seeking from the end of a deflated dataset")
        self._pos = max(0, base + offset)
        return self._pos


def _before_pixels(tag: int, vr: str | None, length: int) -> bool:
    return tag in PIXEL_TAGS


def read_header(path: Path) -> Dataset:
    """The file's data set up to its pixel data (``file_meta`` included); deflated files inflated only that far.

    Raises whatever pydicom raises for a file that is no DICOM; callers name the file.
    """
    with open(path, "rb") as fp:
        read_preamble(fp, False)
        meta = FileMetaDataset(read_dataset(fp, False, True, stop_when=lambda tag, vr, length: tag.group != 2))
        if meta.get("TransferSyntaxUID") != DeflatedExplicitVRLittleEndian:
            return pydicom.dcmread(path, stop_before_pixels=True)
        header = read_dataset(_Inflating(fp, path), False, True, stop_when=_before_pixels)
    header.file_meta = meta
    return header
