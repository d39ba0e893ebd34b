"""``calcdet phantom``: impossible sizes and unwritable folders are one-line errors, before anything is written."""

from __future__ import annotations

import subprocess
import sys


def _phantom(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calcdet_core", "phantom", *args], capture_output=True, text=True,
                          check=False)


def _error_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


def test_a_size_that_cannot_fit_in_memory_is_refused_before_writing(tmp_path):
    out = tmp_path / "release"
    done = _phantom(str(out), "--images", "1", "--height", "2000000", "--width", "2000000")
    assert done.returncode == 1, done.stderr
    (line,) = _error_lines(done)
    assert line.startswith("error: phantom: a 2000000x2000000 image needs about ") and "GiB is available" in line
    assert not out.exists(), "nothing is written before the size is checked"


def test_an_output_location_that_cannot_be_a_folder_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    for out in (blocker, blocker / "release"):
        done = _phantom(str(out), "--images", "1", "--height", "64", "--width", "64")
        assert done.returncode == 1 and "Traceback" not in done.stderr
        (line,) = _error_lines(done)
        assert line.startswith(f"error: phantom: cannot write the release to {out}: [Errno 20] Not a directory")
