"""Detections with boxes: the CSV keeps its columns and adds x0,y0,x1,y1 only when needed; box-ap scores real boxes."""

import numpy as np
import pytest

from calcdet_core.contracts.data import Annotation, Candidates, Detections, GridTransform, ImageResult, Target
from calcdet_core.evaluation.boxes import box_metrics
from calcdet_core.io.detections_csv import read_detections_csv, write_detections_csv


def test_boxes_round_trip_exactly_and_only_where_given(tmp_path):
    rng = np.random.default_rng(1)
    xyr = rng.random((3, 3)) * 100
    boxes = np.column_stack([xyr[:, :2] - rng.random((3, 2)), xyr[:, :2] + rng.random((3, 2)) * 7])
    boxed = Detections(xyr, rng.random(3), "boxed", boxes)
    plain = Candidates(rng.random((2, 3)) * 100, rng.random(2), "plain")
    path = write_detections_csv(tmp_path / "d.csv", [boxed, plain, Detections.empty("none")])
    assert path.read_text().splitlines()[0] == "image_id,x,y,radius,score,x0,y0,x1,y1"
    got = read_detections_csv(path)
    np.testing.assert_array_equal(got["boxed"].boxes, boxes)
    np.testing.assert_array_equal(got["boxed"].xyr, xyr)
    assert got["plain"].boxes is None and "none" not in got


def test_no_box_columns_without_boxes(tmp_path):
    path = write_detections_csv(tmp_path / "d.csv", [Detections(np.ones((2, 3)), [0.5, 0.4], "a"),
                                                      Detections(np.zeros((0, 3)), [], "b", np.zeros((0, 4)))])
    assert path.read_text().splitlines()[0] == "image_id,x,y,radius,score"


def test_boxes_survive_the_mirror_back_to_the_stored_grid(tmp_path):
    working = Detections([[10.0, 5.0, 2.0]], [0.9], "a", [[8.0, 4.0, 13.0, 6.0]])
    stored = working.mapped(GridTransform(x0=20, y0=3, width=40, height=30, flipped=True).to_stored)
    np.testing.assert_array_equal(stored.boxes, [[20 + 39 - 13.0, 7.0, 20 + 39 - 8.0, 9.0]])
    got = read_detections_csv(write_detections_csv(tmp_path / "d.csv", [stored]))["a"]
    np.testing.assert_array_equal(got.boxes, stored.boxes)


@pytest.mark.parametrize(("rows", "message"), [
    ("a,1,2,3,0.5,0,1,,4\n", r":2: columns x0, y0, x1, y1 should all hold a number or all be empty"),
    ("a,1,2,3,0.5,5,1,2,4\n", r":2: box should have x0 <= x1"),
    ("a,1,2,3,0.5,0,1,2,4\na,1,2,3,0.4,,,,\n", r":3: image 'a' has rows with and rows without a box"),
    ("a,1,2,3,0.5,0,1,2\n", r":2: expected 9 fields, found 8"),
])
def test_bad_box_cells_name_the_line(tmp_path, rows, message):
    path = tmp_path / "bad.csv"
    path.write_text("image_id,x,y,radius,score,x0,y0,x1,y1\n" + rows)
    with pytest.raises(ValueError, match=message):
        read_detections_csv(path)


def test_a_header_with_some_box_columns_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("image_id,x,y,radius,score,x0,y0\n")
    with pytest.raises(ValueError, match=r":1: header should name the columns .* optionally x0, y0, x1, y1"):
        read_detections_csv(path)


def test_box_ap_scores_predicted_boxes_not_squares():
    truth = Annotation(targets=(Target(50.0, 50.0),))  # its box: 43..57 both ways
    centre = Candidates.from_columns([50.0], [50.0], [20.0], [0.9], "a")  # its square (30..70) misses at IoU 0.5
    squares = box_metrics([ImageResult("a", centre, truth)])
    boxed = box_metrics([ImageResult("a", Detections.of(centre, np.array([[43.0, 43.0, 57.0, 57.0]])), truth)])
    assert (squares["ap50"], squares["detection_boxes"]) == (0.0, "squares")
    assert boxed["ap50"] == pytest.approx(1.0) and boxed["ar"] == 1.0 and boxed["detection_boxes"] == "predicted"
    mixed = box_metrics([ImageResult("a", Detections.of(centre, np.array([[43.0, 43.0, 57.0, 57.0]])), truth),
                         ImageResult("b", Candidates.from_columns([5.0], [5.0], [3.0], [0.1], "b"), Annotation())])
    assert mixed["detection_boxes"] == "mixed" and mixed["ap50"] == pytest.approx(1.0)
