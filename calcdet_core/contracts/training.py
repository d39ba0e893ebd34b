"""What a learning component gets from the engine: a lazy image stream and a training context.

A detector never receives every image in memory: :class:`ImageStream` holds only how to
find each image (records or dataset references) and reads one working-grid
:class:`TrainingImage` when indexed, so it pickles cheaply and works as a torch
``Dataset`` (``DataLoader(stream, num_workers=...)``). Every ``fit`` gets a
:class:`TrainingContext`: a work folder for checkpoints that survives an interrupted
run, the device, the seed, the worker count and a :class:`Reporter` for progress,
per-epoch metrics and the facts worth keeping in the model directory.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, overload

import numpy as np

from calcdet_core.contracts.data import Annotation
from calcdet_core.imaging.inputs import checked_image
from calcdet_core.io.atomic import write_json_atomic


@dataclass(frozen=True)
class TrainingImage:
    """One preprocessed image, on the working grid (breast cropped, flipped to the left)."""

    image_id: str
    patient_id: str
    pixels: np.ndarray
    mask: np.ndarray | None
    annotation: Annotation
    spacing_mm: tuple[float, float] | None = None


@dataclass(frozen=True)
class StreamEntry:
    """What is known about an image without reading its pixels (annotation in the stored grid)."""

    image_id: str
    patient_id: str
    annotation: Annotation

    @property
    def is_normal(self) -> bool:
        return self.annotation.is_normal


class TrainingTransform(Protocol):
    """A change made to a training image every time a detector draws it (simulated MCs inserted, say).

    A plugin returns factories of transforms from the ``calcdet_training_transforms`` hook; a
    pipeline names one under ``training.transform``. A transform must pickle (it travels into
    loader processes) and be deterministic given ``rng``.
    """

    def keeps(self, entry: StreamEntry) -> bool:
        """Whether the image stays in the stream at all (insertion into normal images only drops the others)."""

    def __call__(self, image: TrainingImage, rng: np.random.Generator) -> TrainingImage:
        """``image`` changed, with its annotation telling the truth about the change."""


class ImageStream(Sequence[TrainingImage]):
    """A lazy, picklable sequence of training images: ``stream[i]`` reads and preprocesses image ``i``.

    ``items`` are whatever ``read`` needs to find an image again (an
    :class:`~calcdet_core.contracts.data.ImageRecord`, or a reference a worker process can
    resolve); ``read`` must be a picklable callable (a module-level function or a
    ``functools.partial`` of one) so the stream crosses process boundaries.

    A stream with a :class:`TrainingTransform` (:meth:`with_transform`) gives two views of each
    image: ``stream[i]`` is its *fixed draw* (the same every time, seeded by the stream's seed and
    the image id), and :meth:`draw` a fresh one from the caller's generator, which is how a
    detector shows new inserted MCs every epoch. Its ``entries`` are then the fixed draws'
    (working-grid annotations), found by reading every image once when first asked for.
    """

    def __init__(self, items: Sequence[Any], entries: Sequence[StreamEntry],
                 read: Callable[[Any], TrainingImage]) -> None:
        if len(items) != len(entries):
            raise ValueError(f"ImageStream: {len(items)} items but {len(entries)} entries")
        self._items = list(items)
        self._listed: tuple[StreamEntry, ...] = tuple(entries)
        self._read = read
        self.transform: TrainingTransform | None = None
        self.seed = 0
        self._drawn: tuple[StreamEntry, ...] | None = None

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> TrainingImage: ...

    @overload
    def __getitem__(self, index: slice) -> ImageStream: ...

    def __getitem__(self, index: int | slice) -> TrainingImage | ImageStream:
        if isinstance(index, slice):
            return self.subset(range(len(self))[index])
        image = self._read(self._items[index])
        if self.transform is None:
            return image
        return self._transformed(image, np.random.default_rng([self.seed, zlib.crc32(image.image_id.encode())]))

    def __iter__(self) -> Iterator[TrainingImage]:
        for index in range(len(self)):
            yield self[index]

    def draw(self, index: int, rng: np.random.Generator) -> TrainingImage:
        """Image ``index`` with a fresh draw of the stream's transform from ``rng`` (``stream[index]`` without one)."""
        if self.transform is None:
            return self[index]
        return self._transformed(self._read(self._items[index]), rng)

    def _transformed(self, image: TrainingImage, rng: np.random.Generator) -> TrainingImage:
        """``image`` through the transform, refused naming it when its pixels leave the working grid's [0, 1]: a
        detector would otherwise fail later blaming itself, or train on values it never sees at detection."""
        out = self.transform(image, rng)
        checked_image(out.pixels, f"training.transform {type(self.transform).__name__} (image {image.image_id})")
        return out

    @property
    def entries(self) -> tuple[StreamEntry, ...]:
        """What is known of each image: as listed, or with a transform, its fixed draw's (read once, then kept)."""
        if self.transform is None:
            return self._listed
        if self._drawn is None:
            self._drawn = tuple(StreamEntry(i.image_id, i.patient_id, i.annotation) for i in self)
        return self._drawn

    def subset(self, indices: Sequence[int]) -> ImageStream:
        """The images at ``indices``, still lazy (and transformed alike)."""
        part = ImageStream([self._items[i] for i in indices], [self._listed[i] for i in indices], self._read)
        part.transform, part.seed = self.transform, self.seed
        if self._drawn is not None:
            part._drawn = tuple(self._drawn[i] for i in indices)
        return part

    def with_transform(self, transform: TrainingTransform, seed: int) -> ImageStream:
        """The images ``transform`` keeps, each drawn through it (fixed draws seeded by ``seed``)."""
        if self.transform is not None:
            raise ValueError("ImageStream.with_transform: the stream already has a transform")
        out = self.subset([i for i, e in enumerate(self._listed) if transform.keeps(e)])
        out.transform, out.seed = transform, seed
        return out

    @property
    def image_ids(self) -> list[str]:
        return [e.image_id for e in self._listed]

    @classmethod
    def from_images(cls, images: Sequence[TrainingImage]) -> ImageStream:
        """A stream over images already in memory (tests, notebooks); nothing to read lazily."""
        entries = [StreamEntry(i.image_id, i.patient_id, i.annotation) for i in images]
        return cls(list(images), entries, _identity)


def _identity(image: TrainingImage) -> TrainingImage:
    return image


class Reporter:
    """Progress, per-epoch metrics and training facts of one ``fit``.

    The engine gives ``fit`` a reporter that draws rich progress bars and keeps the
    history in the work folder (so a resumed run continues it) and, at the end, in the
    model directory as ``history.json`` and ``history.png``. A bare ``Reporter()`` only
    records: what tests and notebooks use.
    """

    def __init__(self) -> None:
        self.history: list[dict[str, float]] = []
        self.facts: dict[str, Any] = {}

    def progress(self, description: str, total: int | None = None) -> ProgressTask:
        """A task to ``advance`` while working through ``total`` steps (a batch loop, a grid search)."""
        return ProgressTask()

    def log_epoch(self, epoch: int, **metrics: float) -> None:
        """Record one finished epoch's figures (loss, validation metrics), 1-based ``epoch``."""
        row = {"epoch": epoch, **{k: float(v) for k, v in metrics.items()}}
        self.history = [h for h in self.history if h["epoch"] < epoch] + [row]

    def record(self, **facts: Any) -> None:
        """Keep JSON-ready facts about the training (thresholds chosen, grid searched, rows used)."""
        self.facts.update(facts)

    def message(self, text: str) -> None:
        """A line for the person watching (stderr in the CLI)."""


class ProgressTask:
    """One progress bar; :meth:`Reporter.progress` returns it. The base class draws nothing."""

    def advance(self, steps: int = 1, **fields: float) -> None:
        """``steps`` more done; ``fields`` (e.g. ``loss=0.31``) are shown beside the bar."""

    def close(self) -> None:
        """Finish the bar (it stays on screen)."""

    def __enter__(self) -> ProgressTask:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class TrainingContext:
    """The run-time settings of one ``fit``, never pipeline parameters.

    ``work_dir`` keeps checkpoints until the model directory is written: a rerun of an
    interrupted ``calcdet train`` with the same ``--out`` finds them there. ``device`` is
    ``cpu`` or ``cuda[:N]``, resolved from ``--device`` (``auto``: CUDA when torch sees one).
    """

    work_dir: Path
    seed: int = 0
    device_request: str = "cpu"
    workers: int = 1
    reporter: Reporter = field(default_factory=Reporter)

    @cached_property
    def device(self) -> str:
        from calcdet_core.contracts.devices import resolve_device

        return resolve_device(self.device_request)

    def rng(self, stream: int = 0) -> np.random.Generator:
        """An independent, reproducible generator per ``stream`` number, from the run's seed."""
        return np.random.default_rng([self.seed, stream])

    @classmethod
    def temporary(cls, seed: int = 0, **settings: Any) -> TrainingContext:
        """A context on a fresh temporary folder, for tests and notebooks; the folder goes with the context."""
        context = cls(Path(tempfile.mkdtemp(prefix="calcdet-fit-")), seed=seed, **settings)
        weakref.finalize(context, shutil.rmtree, context.work_dir, True)
        return context

    # ------------------------------------------------------------------ checkpoints

    @property
    def checkpoint_dir(self) -> Path:
        return self.work_dir / "checkpoints"

    def save_checkpoint(self, epoch: int, arrays: dict[str, np.ndarray], state: dict[str, Any] | None = None) -> Path:
        """Keep the state after a finished ``epoch`` (arrays as safetensors, ``state`` as JSON), atomically.

        Only the newest checkpoint is kept; it is what :meth:`last_checkpoint` returns after
        an interruption.
        """
        from calcdet_core.io.arrays import save_arrays

        folder = self.checkpoint_dir
        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / f"epoch-{epoch:04d}.safetensors"
        save_arrays(weights, arrays)
        write_json_atomic(folder / "last.json", {"epoch": epoch, "file": weights.name, "state": state or {},
                                                  "history": self.reporter.history, "facts": self.reporter.facts})
        for old in folder.glob("epoch-*.safetensors"):
            if old != weights:
                old.unlink()
        return weights

    def last_checkpoint(self) -> Checkpoint | None:
        """The newest saved checkpoint (its history restored into the reporter), or ``None``."""
        from calcdet_core.io.arrays import load_arrays

        meta_path = self.checkpoint_dir / "last.json"
        if not meta_path.is_file():
            return None
        meta = json.loads(meta_path.read_text())
        arrays = load_arrays(self.checkpoint_dir / meta["file"])
        self.reporter.history = list(meta.get("history", []))
        self.reporter.facts.update(meta.get("facts", {}))
        return Checkpoint(int(meta["epoch"]), arrays, dict(meta.get("state", {})))


@dataclass(frozen=True)
class Checkpoint:
    """The state after a finished epoch: where a resumed ``fit`` continues."""

    epoch: int
    arrays: dict[str, np.ndarray]
    state: dict[str, Any]
