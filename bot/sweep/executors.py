"""Where a sweep's points run: this process, local worker processes, or a Dask cluster.

Adapters only: each sends chunks of points to ``point.run_chunk`` and hands the results back;
none computes anything, so the table is the same whichever runs it (tests/test_sweep.py). The
task (the closes, above all) goes to each worker once: through the pool's initializer for
local processes, through ``Client.scatter(..., broadcast=True)`` for Dask.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

from bot.errors import ConfigError
from bot.sweep.grid import Point
from bot.sweep.point import PointResult, SweepTask, run_chunk

DASK_HINT = "pip install 'letf-rebalancer[sweep]'"
MAX_CHUNK = 20  # points per round trip: small enough for a live progress bar and balance
CHUNKS_PER_WORKER = 4


class Executor(Protocol):
    """Runs ``run_chunk`` over chunks of points, yielding each chunk's results when done."""

    def describe(self) -> str:
        """For the sweep's header line: where the points run."""
        ...

    def run(
        self, task: SweepTask, chunks: Sequence[Sequence[Point]]
    ) -> Iterator[list[PointResult]]:
        """Each chunk's results, in the order they finish."""
        ...


@dataclass(frozen=True, slots=True)
class InProcess:
    """Every point in this process, one after the other (``--workers 1``)."""

    def describe(self) -> str:
        """For the header."""
        return "in this process"

    def run(
        self, task: SweepTask, chunks: Sequence[Sequence[Point]]
    ) -> Iterator[list[PointResult]]:
        """Each chunk in turn."""
        for chunk in chunks:
            yield run_chunk(chunk, task)


_worker_task: list[SweepTask] = []  # a local worker process's task, set by its initializer


def _set_task(task: SweepTask) -> None:
    _worker_task[:] = [task]


def _run_here(points: Sequence[Point]) -> list[PointResult]:
    return run_chunk(points, _worker_task[0])


@dataclass(frozen=True, slots=True)
class LocalProcesses:
    """``workers`` processes of this machine (``concurrent.futures``), started fresh (spawn):
    nothing of this process's threads or state leaks into them."""

    workers: int

    def describe(self) -> str:
        """For the header."""
        return f"{self.workers} local worker processes"

    def run(
        self, task: SweepTask, chunks: Sequence[Sequence[Point]]
    ) -> Iterator[list[PointResult]]:
        """Each chunk's results as its worker finishes it."""
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_set_task, initargs=(task,)
        ) as pool:
            futures = [pool.submit(_run_here, chunk) for chunk in chunks]
            try:
                for future in as_completed(futures):
                    yield future.result()
            finally:
                for future in futures:
                    future.cancel()


@dataclass(frozen=True, slots=True)
class DaskCluster:
    """The workers of a running Dask cluster (``dask.distributed``), by its scheduler's
    address. The workers need this package installed, like this machine."""

    address: str
    timeout_seconds: float = 30.0

    def describe(self) -> str:
        """For the header."""
        return f"the Dask cluster at {self.address}"

    def run(
        self, task: SweepTask, chunks: Sequence[Sequence[Point]]
    ) -> Iterator[list[PointResult]]:
        """Each chunk's results as the cluster finishes it; the task is scattered to every
        worker once, and each chunk names it rather than carrying it."""
        distributed = require_dask()
        try:
            client = distributed.Client(
                self.address, timeout=self.timeout_seconds, set_as_default=False
            )
        except OSError as exc:
            msg = f"no Dask scheduler answered at {self.address}: {exc}"
            raise ConfigError(msg) from exc
        with client:
            shared = client.scatter(task, broadcast=True)
            futures = client.map(run_chunk, list(chunks), task=shared, pure=False)
            try:
                for future in distributed.as_completed(futures, loop=client.loop):
                    yield future.result()
            finally:
                client.cancel(futures)


def require_dask() -> ModuleType:
    """``dask.distributed``, or a ConfigError saying what to install (before any work)."""
    try:
        import distributed  # noqa: PLC0415 - an optional extra, loaded only for --scheduler
    except ImportError as exc:
        msg = f"--scheduler needs dask.distributed: {DASK_HINT}"
        raise ConfigError(msg) from exc
    return distributed


def chunked(points: Sequence[Point], workers: int) -> list[Sequence[Point]]:
    """Points in chunks: a few per worker for balance, at most ``MAX_CHUNK`` for progress."""
    size = max(1, min(MAX_CHUNK, math.ceil(len(points) / (workers * CHUNKS_PER_WORKER))))
    return [points[i : i + size] for i in range(0, len(points), size)]


def run_points(
    task: SweepTask,
    points: Sequence[Point],
    executor: Executor,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[PointResult, ...]:
    """Every point's result, in point order whatever order they finished in (``workers``:
    how many run at once, to size the chunks; ``progress(done, total)`` after each chunk)."""
    results: list[PointResult] = []
    for done in executor.run(task, chunked(points, workers)):
        results += done
        if progress is not None:
            progress(len(results), len(points))
    return tuple(sorted(results, key=lambda r: r.index))
