"""Scoring a detections file against a dataset's truth: the pairing of detections with image records."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from calcdet_core.contracts.components import Evaluator
from calcdet_core.contracts.data import Candidates, ImageRecord, ImageResult
from calcdet_core.errors import InvalidInputError
from calcdet_core.io.detections_csv import read_detections_csv


def pair_with_records(selected: Sequence[ImageRecord], detections: Mapping[str, Candidates],
                      dataset_ids: set[str] | None = None, source: str = "the detections"
                      ) -> tuple[list[ImageResult], list[str]]:
    """One result per selected record (no detections = an empty set) and the ids left out.

    Detections of images the dataset does not hold (``dataset_ids``; default: the selected
    ones) are an error naming them. Detections of dataset images outside the selection
    (another split) are left out and their ids returned, so the caller can say so.
    """
    chosen = {r.image_id for r in selected}
    known = chosen if dataset_ids is None else chosen | set(dataset_ids)
    unknown = [image_id for image_id in detections if image_id not in known]
    if unknown:
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        raise InvalidInputError(f"{source} name {len(unknown)} image id(s) the dataset does not hold: "
                                f"{', '.join(repr(i) for i in unknown[:10])}{more}")
    left_out = [image_id for image_id in detections if image_id not in chosen]
    results = [ImageResult(r.image_id, detections.get(r.image_id, Candidates.empty(r.image_id)), r.annotation,
                           spacing_mm=stored_spacing(r)) for r in selected]
    return results, left_out


def stored_spacing(record: ImageRecord) -> tuple[float, float] | None:
    """The (row, column) spacing in mm the record's DICOM header states (PixelSpacing, else ImagerPixelSpacing);
    ``None`` for other files or a DICOM that states none. Reads the header only, not the pixels."""
    from calcdet_core.io.images import DICOM_SUFFIXES, image_header

    if Path(record.path).suffix.lower() not in DICOM_SUFFIXES:
        return None
    return image_header(Path(record.path))[2]


def without_rows(selected: Sequence[ImageRecord], detections: Mapping[str, Candidates], source: str,
                 strict: bool = False) -> tuple[list[str], str | None]:
    """The selected images the detections file has no row for, and a warning saying so (``None`` if all have).

    The CSV has one row per detection, so an image without rows counts as one where nothing was
    found; a file that covers part of the images (or none: header only) is more often a mistake.
    ``strict`` (``--strict``) makes that an :class:`InvalidInputError`, before anything is written.
    """
    missing = [r.image_id for r in selected if r.image_id not in detections]
    if not missing:
        return missing, None
    if not detections:
        message = f"{source} holds no detection row at all: all {len(selected)} selected image(s) are scored as empty"
    else:
        message = (f"{source} has no row for {len(missing)} of the {len(selected)} selected image(s) "
                   f"(e.g. {missing[0]!r}); they are scored as images where nothing was found")
    if strict:
        raise InvalidInputError(message + " (--strict)")
    return missing, message


def file_aliases(records: Sequence[ImageRecord]) -> dict[str, str]:
    """{file stem: image id} of the records whose id is not their file's stem (INbreast: the id is the name's
    first field), so detections named by file score as the dataset names the image."""
    return {Path(r.path).stem: r.image_id for r in records if Path(r.path).stem != r.image_id}


def by_dataset_ids(found: dict[str, Candidates], aliases: Mapping[str, str],
                   warn: Callable[[str], None] | None = None) -> dict[str, Candidates]:
    """``found`` with every id that is an alias renamed to the dataset's id; both present for one image is refused."""
    renamed = {aliases.get(k, k): k for k in found}
    if len(renamed) != len(found):
        twice = sorted(k for k in found if k in aliases and aliases[k] in found)
        raise InvalidInputError(f"rows name image {aliases[twice[0]]!r} both by its id and by its file name "
                                f"{twice[0]!r}; keep one")
    changed = sum(new != old for new, old in renamed.items())
    if changed and warn is not None:
        warn(f"{changed} image id(s) in the CSV are DICOM file names; scored as the dataset's ids for those files")
    return {new: found[old] for new, old in renamed.items()}


def suspicious_rows(selected: Sequence[ImageRecord], found: Mapping[str, Candidates], source: str) -> list[str]:
    """Rows that are scored as they are but are likely a mistake: repeated detections (each counts, so a
    duplicated row is an extra FP) and detections outside their image (a wrong grid or flip)."""
    from calcdet_core.io.images import image_header

    repeated, outside, images_out = 0, 0, []
    for record in selected:
        detections = found.get(record.image_id)
        if detections is None or not len(detections):
            continue
        xy = detections.xyr[:, :2]
        repeated += len(xy) - len(np.unique(xy, axis=0))
        try:
            height, width, _ = image_header(Path(record.path))
        except InvalidInputError:  # a record read some other way than from its path: no size to check against
            continue
        off = int(np.count_nonzero((xy[:, 0] < -0.5) | (xy[:, 0] > width - 0.5) | (xy[:, 1] < -0.5)
                                   | (xy[:, 1] > height - 0.5)))
        outside += off
        images_out += [record.image_id] if off else []
    messages = []
    if repeated:
        messages.append(f"{source}: {repeated} detection(s) repeat another row's position in the same image; each is "
                        "scored, so a repeated row off a target is an extra false positive")
    if outside:
        messages.append(f"{source}: {outside} detection(s) lie outside their image (e.g. in {images_out[0]!r}); they "
                        "are scored as false positives: are the coordinates in the stored grid (x = column, y = row)?")
    return messages


def score_file(detections_csv: Path, selected: Sequence[ImageRecord], out_dir: Path,
               dataset_ids: set[str] | None = None, seed: int = 0, title: str | None = None,
               evaluators: Sequence[Evaluator] | None = None, strict: bool = False,
               warn: Callable[[str], None] | None = None, aliases: Mapping[str, str] | None = None
               ) -> dict[str, Any]:
    """Read ``detections_csv`` (stored grid), pair it with ``selected`` and write the full evaluation.

    ``aliases`` ({file stem: image id}, :func:`file_aliases`) lets a CSV that ``calcdet detect`` wrote from
    the DICOM files themselves (ids: file stems) score against the dataset's ids.

    Selected images with no row are reported through ``warn`` (and refused with ``strict``); their ids
    are in the metrics as ``images_without_rows``.
    """
    from calcdet_core.evaluation.report import evaluate_results

    found = by_dataset_ids(read_detections_csv(detections_csv), aliases or {}, warn)
    results, left_out = pair_with_records(selected, found, dataset_ids, str(detections_csv))
    if warn is not None:  # the check reads every image's header: only worth it when someone hears of it
        for message in suspicious_rows(selected, found, str(detections_csv)):
            warn(message)
    missing, message = without_rows(selected, found, str(detections_csv), strict)
    if message is not None and warn is not None:
        warn(message)
    by_id = {r.image_id: r for r in selected}

    def load(image_id: str) -> np.ndarray | None:
        return by_id[image_id].read().pixels

    return evaluate_results(results, out_dir, evaluators=evaluators, seed=seed, load_image=load,
                            title=title or f"calcdet score: {Path(detections_csv).name}",
                            extra={"detections_csv": str(detections_csv), "images_left_out": left_out,
                                   "images_without_rows": missing})
