"""Detections CSV: exact round trip and row-level errors that name the file and line."""

import numpy as np
import pytest

from calcdet_core.contracts.data import Candidates, Detections
from calcdet_core.errors import InvalidInputError
from calcdet_core.io.detections_csv import read_detections_csv, write_detections_csv


def test_round_trip_keeps_every_float_exactly(tmp_path):
    rng = np.random.default_rng(0)
    a = Candidates(rng.random((5, 3)) * 1000, rng.random(5), "img-a")
    b = Detections(rng.random((2, 3)), np.array([0.1, 1 / 3]), "img b, with comma")
    path = write_detections_csv(tmp_path / "out" / "dets.csv", [a, Candidates.empty("empty"), b])
    got = read_detections_csv(path)
    assert list(got) == ["img-a", "img b, with comma"]  # an image without rows has no entry
    assert isinstance(got["img-a"], Detections)
    np.testing.assert_array_equal(got["img-a"].xyr, a.xyr)
    np.testing.assert_array_equal(got["img-a"].score, a.score)
    np.testing.assert_array_equal(got["img b, with comma"].score, b.score)
    assert not (tmp_path / "out" / "dets.csv.tmp").exists()


def test_columns_in_any_order_and_blank_lines(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("score, image_id, x, y, radius\n0.5, a, 1, 2, 3\n\n0.25,a,4,5,6\n0.75,b,7,8,0\n")
    got = read_detections_csv(path)
    np.testing.assert_array_equal(got["a"].xyr, [[1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(got["a"].score, [0.5, 0.25])
    assert got["b"].image_id == "b"


def test_writer_refuses_missing_image_id(tmp_path):
    with pytest.raises(ValueError, match="no image_id"):
        write_detections_csv(tmp_path / "d.csv", [Candidates(np.ones((1, 3)), [1.0])])
    assert list(tmp_path.iterdir()) == []  # no half-written file left behind


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty file"),
    ("image_id,x,y,score\n", r":1: header should name the columns"),
    ("image_id,x,y,radius,score\na,1,2,3\n", r":2: expected 5 fields, found 4"),
    ("image_id,x,y,radius,score\na,1,2,3,0.5\n ,1,2,3,0.5\n", r":3: empty image_id"),
    ("image_id,x,y,radius,score\na,1,two,3,0.5\n", r":2: column 'y' should be a number, got 'two'"),
    ("image_id,x,y,radius,score\na,1,2,3,nan\n", r":2: column 'score' should be finite"),
    ("image_id,x,y,radius,score\na,1,2,-3,0.5\n", r":2: radius should be >= 0"),
])
def test_reader_names_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        read_detections_csv(path)
    assert str(path) in str(info.value)


def test_an_id_a_spreadsheet_would_run_is_written_as_text_and_read_back_as_it_was(tmp_path):
    ids = ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-2", "@SUM(A1)", "plain", "'quoted"]
    path = write_detections_csv(tmp_path / "d.csv", [Candidates(np.array([[1.0, 2.0, 3.0]]), np.array([0.5]), i)
                                                      for i in ids])
    cells = [line.split(",")[0] for line in path.read_text().splitlines()[1:]]
    assert all(not c.lstrip('"').startswith(("=", "+", "-", "@")) for c in cells), cells
    assert list(read_detections_csv(path)) == ids


def test_a_field_over_the_csv_limit_names_file_and_line(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("image_id,x,y,radius,score\na,1,2,3,0.5\n" + "b" * (200 << 10) + ",1,2,3,0.5\n")
    with pytest.raises(InvalidInputError, match=r"d.csv:3: not a CSV row"):
        read_detections_csv(path)


def test_findings_are_marked_in_a_column_readers_may_ignore(tmp_path):
    found = Candidates(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), np.array([0.9, 0.2]), "a")
    path = write_detections_csv(tmp_path / "d.csv", [found], min_score=0.5)
    lines = path.read_text().splitlines()
    assert lines[0] == "image_id,x,y,radius,score,finding" and [ln[-1] for ln in lines[1:]] == ["1", "0"]
    back = read_detections_csv(path)["a"]
    assert np.array_equal(back.score, found.score), "scoring reads every row, findings or not"
    assert write_detections_csv(tmp_path / "e.csv", [found]).read_text().splitlines()[0].endswith(",score")
