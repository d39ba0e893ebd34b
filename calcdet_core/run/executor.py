"""Per-image jobs on one machine (worker processes) or a Dask cluster, resumable from a work folder.

A job is ``fn(context, item) -> dict[str, numpy array]`` with ``fn`` a module-level function
(or, batched, ``fn(context, [item, ...]) -> [dict, ...]``: a GPU detector's ``detect_batch``).
``context`` (e.g. the trained pipeline) is shipped once per worker, not once per image.
Every finished job is written at once to ``work_dir/<key>.npz`` (temporary file, then
``os.replace``), so a run that is interrupted loses only the images in flight and the
next run with the same work folder starts where it stopped. Results are plain numpy
arrays, read back with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from calcdet_core.errors import CalcdetUserError, InvalidInputError

Result = dict[str, np.ndarray]
JobFn = Callable[[Any, Any], Result]

progress_console = Console(stderr=True)


def progress_bar(console: Console | None = None) -> Progress:
    """The rich progress display every long step of calcdet uses."""
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TimeRemainingColumn(), console=console or progress_console)


@contextmanager
def progress_shown(show: bool) -> Iterator[None]:
    """Progress bars and status lines on stderr only while ``show`` (``--quiet``, the Python API's ``progress``);
    an outer silence stays."""
    before = progress_console.quiet
    progress_console.quiet = before or not show
    try:
        yield
    finally:
        progress_console.quiet = before


def job_key(image_id: str) -> str:
    """A file-name-safe, collision-free key for an image id."""
    readable = re.sub(r"[^A-Za-z0-9._-]", "_", image_id)[:80]
    return f"{readable}-{hashlib.sha1(image_id.encode()).hexdigest()[:10]}"


def save_result(path: Path, result: Result) -> None:
    """Write a job result atomically: a reader sees the whole file or none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **result)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_result(path: Path) -> Result:
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _saved_result(path: Path) -> Result | None:
    """The result saved at ``path``; ``None`` (and the file deleted) when a crash left it damaged."""
    try:
        return load_result(path)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
        path.unlink(missing_ok=True)
        return None


STAGE_COSTS = ("wall", "cpu", "rss")
"""Per-stage figures a job may add to its result: ``wall_<stage>`` and ``cpu_<stage>`` seconds, ``rss_<stage>`` MB."""


@contextmanager
def timed(out: Result, stage: str) -> Iterator[None]:
    """Add the block's wall and CPU seconds (all threads) to ``out``, and this process's peak resident memory so
    far (MB: monotone, so a stage that raised it shows its own peak), for benchmarks to read per stage."""
    import resource

    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield
    finally:
        for kind, value in (("wall", time.perf_counter() - wall), ("cpu", time.process_time() - cpu)):
            out[f"{kind}_{stage}"] = np.float64(float(out.get(f"{kind}_{stage}", 0.0)) + value)
        out[f"rss_{stage}"] = np.float64(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def stage_costs(results: Iterable[Result]) -> dict[str, dict[str, float]]:
    """Per stage over jobs' results: wall and CPU seconds summed, peak resident MB the largest (``{}``: none kept)."""
    costs: dict[str, dict[str, float]] = {}
    for result in results:
        for key, value in result.items():
            kind, _, stage = key.partition("_")
            if kind in STAGE_COSTS and stage:
                into = costs.setdefault(stage, {"wall_s": 0.0, "cpu_s": 0.0, "peak_rss_mb": 0.0})
                if kind == "rss":
                    into["peak_rss_mb"] = max(into["peak_rss_mb"], float(value))
                else:
                    into[f"{kind}_s"] += float(value)
    return costs


# --------------------------------------------------------------------------- executors

_worker_context: Any = None


def watch_parent(parent: int, interval: float = 0.5, by_kernel: bool = True) -> None:
    """End this worker when the process that started it is gone (killed, even with SIGKILL).

    With ``by_kernel`` on Linux the kernel sends SIGKILL at the parent's death (``PR_SET_PDEATHSIG``),
    which it ties to the parent *thread* that started the worker: only for workers started from a thread
    that lives as long as the process. Everywhere, a daemon thread also polls the parent id, which
    changes when the worker is re-parented.
    """
    if by_kernel and sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the watch began
        os._exit(1)

    def poll() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=poll, name="calcdet-parent-watch", daemon=True).start()


def _start_worker(parent: int, context: Any) -> None:
    """Worker initializer: watch the parent, then keep the context every job of this worker gets."""
    global _worker_context
    watch_parent(parent)
    _worker_context = context


def _call_in_worker(fn: JobFn, item: Any) -> Result:
    return fn(_worker_context, item)


class Executor(ABC):
    """Runs ``fn(context, item)`` for every item and yields ``(index, result)`` as jobs finish.

    Use it as a context manager: leaving the block releases what it holds (a Dask client it connected),
    so a long-lived process (a notebook, a test session) keeps no connection to a cluster it is done with.
    """

    @abstractmethod
    def run(self, fn: JobFn, context: Any, items: Sequence[Any]) -> Iterator[tuple[int, Result]]:
        """Yield ``(index into items, result)`` for every job, in completion order."""

    def close(self) -> None:  # noqa: B027 - executors that hold nothing between runs release nothing
        """Release what the executor holds between runs."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ships_items(self) -> bool:
        """Whether items cross a process boundary (so they must pickle)."""
        return True


class SerialExecutor(Executor):
    """In this process, one image after another (``--workers 1``)."""

    def run(self, fn: JobFn, context: Any, items: Sequence[Any]) -> Iterator[tuple[int, Result]]:
        for i, item in enumerate(items):
            yield i, fn(context, item)

    @property
    def ships_items(self) -> bool:
        return False


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
"""What BLAS, OpenMP (torch, OpenCV builds that use it) and numba read for their thread counts at start-up."""


@contextmanager
def _thread_limits_for_workers(workers: int) -> Iterator[None]:
    """Spawned workers start with ``cores // workers`` threads each, so processes times threads stays at most
    the core count; a limit the user set in the environment is kept."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    per_worker = str(max(1, cores // workers))
    added = [name for name in THREAD_VARIABLES if name not in os.environ]
    os.environ.update(dict.fromkeys(added, per_worker))
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@dataclass
class ProcessExecutor(Executor):
    """``workers`` spawned processes; the context is sent once to each at start-up."""

    workers: int

    def run(self, fn: JobFn, context: Any, items: Sequence[Any]) -> Iterator[tuple[int, Result]]:
        with _thread_limits_for_workers(self.workers), ProcessPoolExecutor(
                max_workers=self.workers, mp_context=get_context("spawn"),
                initializer=_start_worker, initargs=(os.getpid(), context)) as pool:
            pending: dict[Future[Result], int] = {}
            queue = iter(enumerate(items))
            for i, item in queue:  # keep a bounded number of jobs queued
                pending[pool.submit(_call_in_worker, fn, item)] = i
                if len(pending) >= 2 * self.workers:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending[pool.submit(_call_in_worker, fn, nxt[1])] = nxt[0]
                    yield index, future.result()


CONNECT_SECONDS = 10
"""How long ``--scheduler`` waits for the scheduler to answer before saying it cannot reach it."""


class DaskExecutor(Executor):
    """The same jobs on a Dask distributed cluster: a scheduler address or a ``distributed.Client``."""

    def __init__(self, scheduler: str | Any) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise InvalidInputError("--scheduler needs Dask's 'distributed' package: "
                                    "pip install 'calcdet[dask]'") from exc

        self._own = isinstance(scheduler, str)
        try:
            self.client = Client(scheduler, timeout=CONNECT_SECONDS) if self._own else scheduler
        except (OSError, ValueError, TypeError) as exc:
            raise InvalidInputError(f"--scheduler {scheduler}: cannot reach a Dask scheduler there "
                                    f"({type(exc).__name__}: {exc})") from None

    def run(self, fn: JobFn, context: Any, items: Sequence[Any]) -> Iterator[tuple[int, Result]]:
        from distributed import as_completed

        shared = self.client.scatter(context, broadcast=True, hash=False)
        futures = {self.client.submit(fn, shared, item, pure=False): i for i, item in enumerate(items)}
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # jobs catch their own errors (_Guard): this is the cluster failing
                raise CalcdetUserError(f"the Dask cluster failed ({type(exc).__name__}: {exc}); the results "
                                       "finished before are kept, and the same command resumes from them") from None
            yield futures[future], result

    def close(self) -> None:
        if self._own:
            self.client.close()


def make_executor(workers: int = 1, scheduler: str | Any | None = None) -> Executor:
    """Dask when a scheduler is given, else ``workers`` local processes (1: in this process)."""
    if scheduler is not None:
        return DaskExecutor(scheduler)
    if workers < 1:
        raise InvalidInputError(f"--workers must be at least 1, got {workers}")
    return SerialExecutor() if workers == 1 else ProcessExecutor(workers)


# --------------------------------------------------------------------------- resumable runs


@dataclass(frozen=True)
class JobFailure:
    key: str
    label: str
    error: str


class JobsFailed(CalcdetUserError, RuntimeError):
    """Some images failed; the others are saved in the work folder, so a rerun only redoes these."""

    def __init__(self, failures: list[JobFailure], work_dir: Path) -> None:
        self.failures = failures
        lines = "\n".join(f"  {f.label}: {f.error}" for f in failures[:20])
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        super().__init__(f"{len(failures)} image(s) failed (finished ones are kept in {work_dir}):\n{lines}{more}")


def _guarded(fn: JobFn, context: Any, item: Any) -> Result:
    try:
        return fn(context, item)
    except Exception as exc:  # reported per image by run_jobs, never swallowed
        return {"__error__": np.array(f"{type(exc).__name__}: {exc}")}


@dataclass(frozen=True)
class _Guard:
    """Picklable wrapper that turns a job's exception into a result, so one bad image stops nothing else."""

    fn: JobFn

    def __call__(self, context: Any, item: Any) -> Result:
        return _guarded(self.fn, context, item)


@dataclass(frozen=True)
class _Batched:
    """Picklable wrapper: a job over several items whose results travel as one flat ``{"<j>/<name>": array}``."""

    fn: Callable[[Any, list[Any]], list[Result]]

    def __call__(self, context: Any, items: list[Any]) -> Result:
        results = self.fn(context, items)
        if len(results) != len(items):
            raise ValueError(f"a batch of {len(items)} items gave {len(results)} results")
        return {f"{j}/{name}": value for j, result in enumerate(results) for name, value in result.items()}


def _unbatched(result: Result, n: int) -> list[Result]:
    parts: list[Result] = [{} for _ in range(n)]
    for flat, value in result.items():
        j, _, name = flat.partition("/")
        parts[int(j)][name] = value
    return parts


def _save_or_say(path: Path, result: Result, finished: int) -> None:
    """:func:`save_result`, a failure (a full disk) told in one line that says the finished results are kept."""
    try:
        save_result(path, result)
    except OSError as exc:
        raise CalcdetUserError(f"cannot save a result in {path.parent}: {exc.strerror or exc}; the {finished} "
                               "finished before are kept, and the same command resumes from them") from None


def run_jobs(fn: JobFn, context: Any, items: Sequence[Any], keys: Sequence[str], work_dir: Path,
             executor: Executor, description: str, labels: Sequence[str] | None = None,
             progress: Progress | None = None, batch_size: int = 1) -> dict[str, Result]:
    """Run the jobs not yet in ``work_dir``; return every result by key, or raise :class:`JobsFailed`.

    With ``batch_size`` > 1, ``fn(context, [item, ...])`` takes up to that many items at once and
    returns one result per item; each is still saved on its own, so a rerun redoes only what is missing
    (a failed batch fails each of its items).
    """
    if len(set(keys)) != len(keys):
        raise ValueError("job keys must be unique (duplicate image ids?)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    work_dir.mkdir(parents=True, exist_ok=True)
    labels = list(labels or keys)
    paths = [work_dir / f"{key}.npz" for key in keys]
    results: dict[str, Result] = {}
    todo = []
    damaged = []
    for i, path in enumerate(paths):
        if not path.is_file():
            todo.append(i)
        elif (saved := _saved_result(path)) is None:
            damaged.append(labels[i])
            todo.append(i)
        else:
            results[keys[i]] = saved
    if damaged:
        progress_console.print(f"[yellow]{len(damaged)} saved result(s) in {work_dir} were damaged (a write cut "
                               f"short?) and are computed again[/yellow], e.g. {', '.join(damaged[:3])}")
    failures: list[JobFailure] = []
    own = progress is None
    bar = progress or progress_bar()
    if own:
        bar.start()
    try:
        task = bar.add_task(description, total=len(keys), completed=len(keys) - len(todo))
        groups = [todo[start:start + batch_size] for start in range(0, len(todo), batch_size)]
        job: JobFn = _Guard(fn) if batch_size == 1 else _Guard(_Batched(fn))
        jobs = [items[g[0]] if batch_size == 1 else [items[i] for i in g] for g in groups]
        for j, result in executor.run(job, context, jobs):
            group = groups[j]
            whole = "__error__" in result or batch_size == 1
            parts = [result] * len(group) if whole else _unbatched(result, len(group))
            for i, part in zip(group, parts, strict=True):
                if "__error__" in part:
                    failures.append(JobFailure(keys[i], labels[i], str(part["__error__"])))
                else:
                    _save_or_say(paths[i], part, len(results))
                    results[keys[i]] = part
            bar.advance(task, len(group))
    finally:
        if own:
            bar.stop()
    if failures:
        raise JobsFailed(failures, work_dir)
    return results
