"""A reporter that records progress bars, for tests of what a ``fit`` shows while it runs."""

from __future__ import annotations

from calcdet_core.contracts.training import ProgressTask, Reporter


class RecordingReporter(Reporter):
    """A reporter that keeps every bar opened, every step advanced and every message, to test that a ``fit``
    shows its progress and says what it must (a fallback, a warning).

    Give it to a component through ``TrainingContext(work_dir, reporter=RecordingReporter())``;
    ``bars`` holds ``(description, total, steps)`` per bar in the order opened, ``messages`` the lines.
    """

    def __init__(self) -> None:
        super().__init__()
        self.bars: list[tuple[str, int | None, list[int]]] = []
        self.messages: list[str] = []

    def message(self, text: str) -> None:
        self.messages.append(text)

    def progress(self, description: str, total: int | None = None) -> ProgressTask:
        steps: list[int] = []
        self.bars.append((description, total, steps))
        return _RecordingTask(steps)

    def bar(self, text: str) -> tuple[int | None, int]:
        """``(total, steps done)`` of the one bar whose description contains ``text``."""
        found = [(total, sum(steps)) for description, total, steps in self.bars if text in description]
        if len(found) != 1:
            opened = [description for description, _, _ in self.bars]
            raise AssertionError(f"expected one progress bar containing {text!r}; bars opened: {opened}")
        return found[0]


class _RecordingTask(ProgressTask):
    """The task :class:`RecordingReporter` hands out: appends each ``advance`` to its bar's steps."""

    def __init__(self, steps: list[int]) -> None:
        self.steps = steps

    def advance(self, steps: int = 1, **fields: float) -> None:
        self.steps.append(steps)

