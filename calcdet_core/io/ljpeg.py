"""A small lossless JPEG encoder (ITU T.81 process 14, predictor 1, one component).

pydicom can decode JPEG Lossless (through pylibjpeg-libjpeg) but ships no encoder
for it; many mammography archives store exactly this syntax
(1.2.840.10008.1.2.4.70). This encoder lets calcdet write such files so that the
reading path is tested on real compressed data. It is vectorised with numpy and
meant for test images and phantoms, not for archiving clinical data.
"""

from __future__ import annotations

import heapq
import struct

import numpy as np

_CHUNK = 1 << 18
"""Pixels bit-packed per step (bounds the temporary memory)."""


def _differences(image: np.ndarray, precision: int) -> np.ndarray:
    """Prediction residuals for selection value 1 (left neighbour; above in column 0), modulo 2^16."""
    x = image.astype(np.int64)
    pred = np.empty_like(x)
    pred[0, 0] = 1 << (precision - 1)
    pred[0, 1:] = x[0, :-1]
    pred[1:, 0] = x[:-1, 0]
    pred[1:, 1:] = x[1:, :-1]
    d = (x - pred) % 65536
    return np.where(d > 32768, d - 65536, d).ravel()


def _code_lengths(counts: np.ndarray) -> dict[int, int]:
    """Huffman code length per used symbol, limited to 16 bits (T.81 Annex K.2/K.3)."""
    reserved = 256  # takes the all-ones code, which JPEG forbids, and is then dropped
    heap: list[tuple[int, int, list[int]]] = [(int(c), s, [s]) for s, c in enumerate(counts) if c > 0]
    heap.append((0, reserved, [reserved]))
    heapq.heapify(heap)
    length = dict.fromkeys((s for _, _, group in heap for s in group), 0)
    while len(heap) > 1:
        c1, k1, g1 = heapq.heappop(heap)
        c2, k2, g2 = heapq.heappop(heap)
        for s in g1 + g2:
            length[s] += 1
        heapq.heappush(heap, (c1 + c2, min(k1, k2), g1 + g2))
    bits = np.zeros(max(33, max(length.values()) + 1), dtype=np.int64)
    for n in length.values():
        bits[n] += 1
    i = len(bits) - 1
    while i > 16:  # Annex K.3: move over-long codes up the tree
        while bits[i] > 0:
            j = i - 2
            while bits[j] == 0:
                j -= 1
            bits[i] -= 2
            bits[i - 1] += 1
            bits[j + 1] += 2
            bits[j] -= 1
        i -= 1
    order = sorted(length, key=lambda s: (length[s], s == reserved, s))
    limited: dict[int, int] = {}
    pos = 0
    for n in range(1, 17):
        for s in order[pos : pos + bits[n]]:
            limited[s] = n
        pos += int(bits[n])
    limited.pop(reserved)
    return limited


def _canonical_codes(lengths: dict[int, int]) -> tuple[list[int], list[int], dict[int, int]]:
    """BITS (16 counts), HUFFVAL and the code of each symbol, as T.81 Annex C assigns them."""
    huffval = sorted(lengths, key=lambda s: (lengths[s], s))
    bits = [sum(1 for s in huffval if lengths[s] == n) for n in range(1, 17)]
    codes: dict[int, int] = {}
    code, previous = 0, 1
    for s in huffval:
        code <<= lengths[s] - previous
        previous = lengths[s]
        codes[s] = code
        code += 1
    return bits, huffval, codes


def _pack_bits(values: np.ndarray, lengths: np.ndarray) -> bytes:
    """Concatenate variable-length codes MSB-first, pad with ones, stuff 0x00 after 0xFF."""
    pieces = []
    for start in range(0, len(values), _CHUNK):
        v, n = values[start : start + _CHUNK], lengths[start : start + _CHUNK]
        total = int(n.sum())
        rep_n = np.repeat(n, n)
        k = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(n) - n, n)
        pieces.append(((np.repeat(v, n) >> (rep_n - 1 - k).astype(np.uint64)) & np.uint64(1)).astype(np.uint8))
    bits = np.concatenate(pieces) if pieces else np.zeros(0, np.uint8)
    bits = np.concatenate([bits, np.ones((-len(bits)) % 8, np.uint8)])
    data = np.packbits(bits)
    return np.insert(data, np.flatnonzero(data == 0xFF) + 1, 0).tobytes()


def encode_lossless_jpeg(image: np.ndarray, precision: int = 16) -> bytes:
    """Encode a 2-D unsigned image of ``precision`` bits (2-16) as a lossless JPEG codestream."""
    arr = np.asarray(image)
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.unsignedinteger):
        raise ValueError(f"lossless JPEG needs a 2-D unsigned integer image, got {arr.dtype} {arr.shape}")
    if not 2 <= precision <= 16 or (arr.size and int(arr.max()) >= 1 << precision):
        raise ValueError(f"precision {precision} must be 2-16 and hold every pixel value")
    h, w = arr.shape
    if not (0 < h < 65536 and 0 < w < 65536):
        raise ValueError(f"lossless JPEG image sides must be 1-65535, got {w}x{h}")
    d = _differences(arr, precision)
    magnitude = np.abs(d)
    ssss = np.frexp(magnitude.astype(np.float64))[1].astype(np.int64)  # bit length; 0 for 0
    lengths = _code_lengths(np.bincount(ssss, minlength=17))
    bits, huffval, codes = _canonical_codes(lengths)
    code_of = np.zeros(17, np.uint64)
    len_of = np.zeros(17, np.int64)
    for s in huffval:
        code_of[s], len_of[s] = codes[s], lengths[s]
    extra_len = np.where(ssss == 16, 0, ssss)
    extra = (np.where(d >= 0, d, d - 1) & ((1 << extra_len) - 1)).astype(np.uint64)
    values = (code_of[ssss] << extra_len.astype(np.uint64)) | extra
    scan = _pack_bits(values, len_of[ssss] + extra_len)

    dht = bytes([0x00, *bits, *huffval])
    return b"".join([
        b"\xff\xd8",
        b"\xff\xc3" + struct.pack(">HBHHB", 11, precision, h, w, 1) + bytes([1, 0x11, 0]),
        b"\xff\xc4" + struct.pack(">H", 2 + len(dht)) + dht,
        b"\xff\xda" + struct.pack(">HB", 8, 1) + bytes([1, 0x00, 1, 0, 0]),
        scan,
        b"\xff\xd9",
    ])
