"""The fast backtester's loop compiled by numba: an option for many backtests in one process.

``kernel.run_days`` is plain Python as imported, and that is what ``bot backtest`` runs: one
backtest's loop takes milliseconds to a second in Python, less than importing numba and loading
its compiled loop (about 1 s), and it never compiles. A parameter sweep or the benchmark against
bt asks for the compiled loop (``run_fast_backtest(..., compiled=True)``); it needs the
``backtest`` extra (``pip install 'letf-rebalancer[backtest]'``). Both run the same code and give
the same numbers (tests/test_compiled_loop.py).

The compiled twin is built here, not at import: every function marked by ``bot.compilable`` in
``MODULES`` is copied into a twin namespace, where a marked function or a listed module named by
another refers to its twin, and given to ``numba.njit(cache=True)``. numba caches on disk, keyed
by the source file's time stamp and the entry point's own bytecode only, not by the other
functions it inlines: a change in another listed module would reuse a stale loop. The cache
therefore lives in a directory named after a hash of every listed module's source, under
``$NUMBA_CACHE_DIR/letf-rebalancer`` (or ``~/.cache/letf-rebalancer/numba``).

The first compiled call after an install (or after a change to a listed module) compiles for
10-30 s; ``python -m bot.backtest.warm`` does it ahead of time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import os
import shutil
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.compilable import numba_options

# Every module with marked functions the loop calls (a module listed later may use an earlier).
MODULES = ("bot.rules", "bot.backtest.kernel")
ENTRY = ("bot.backtest.kernel", "run_days")
INSTALL_HINT = "pip install 'letf-rebalancer[backtest]'"


class CompilerMissingError(ModuleNotFoundError):
    """numba is not installed: the compiled loop was asked for (the plain one needs nothing)."""

    def __init__(self) -> None:
        super().__init__(
            f"the compiled backtest loop needs numba: {INSTALL_HINT} "
            "(or leave compiled=False: the same numbers in plain Python)",
            name="numba",
        )


def available() -> bool:
    """Whether numba is installed (without importing it)."""
    return importlib.util.find_spec("numba") is not None


def source_hash() -> str:
    """A hash of every listed module's source: the compiled loop's cache key beyond numba's."""
    digest = hashlib.sha256()
    for name in MODULES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            msg = f"cannot find the source of {name}"
            raise RuntimeError(msg)
        digest.update(name.encode() + b"\0" + Path(spec.origin).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    """Where the compiled loops of every version live (one directory per source hash)."""
    base = os.environ.get("NUMBA_CACHE_DIR")
    if base:
        return Path(base) / "letf-rebalancer"
    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(home) / "letf-rebalancer" / "numba"


def cache_dir() -> Path:
    """This version's compiled loop."""
    return cache_root() / source_hash()


def run_days() -> Callable[..., int]:
    """``kernel.run_days`` compiled by numba (compiled on first call, or loaded from the cache).

    Raises ``CompilerMissingError`` (one line, with the install command) without numba."""
    entry: Callable[..., int] = getattr(_twins()[ENTRY[0]], ENTRY[1])
    return entry


MEASURE_SIGNATURE = "float64(float64, float64)"


@functools.cache
def measure(function: Callable[[float, float], float]) -> object:
    """A corridor trigger's measure (``bot.triggers.base.Measure``) compiled for the loop.

    It is compiled as a C callback of one fixed signature, so the loop takes any measure as the
    same argument type: one compiled loop serves every corridor kind, and numba's disk cache
    (which cannot key a loop on a function passed to it) finds it again in the next process.
    The measure itself is cached beside its loop, keyed by its own source file."""
    try:
        import numba  # noqa: PLC0415 - only for the compiled loop
    except ImportError as exc:
        raise CompilerMissingError from exc
    config: Any = numba.config
    saved = config.CACHE_DIR
    config.CACHE_DIR = str(cache_dir() / "measures")
    try:
        return numba.cfunc(MEASURE_SIGNATURE, cache=True)(function)
    finally:
        config.CACHE_DIR = saved


@functools.cache
def _twins() -> dict[str, types.ModuleType]:
    try:
        import numba  # noqa: PLC0415 - only for the compiled loop
    except ImportError as exc:
        raise CompilerMissingError from exc
    originals = [importlib.import_module(name) for name in MODULES]
    twins = {m.__name__: types.ModuleType(m.__name__, m.__doc__) for m in originals}
    replaced: dict[int, object] = {id(m): twins[m.__name__] for m in originals}
    directory = cache_dir()
    config: Any = numba.config
    saved = config.CACHE_DIR
    config.CACHE_DIR = str(directory)  # read when each function's cache is set up
    try:
        for module in originals:
            namespace = twins[module.__name__].__dict__
            for value in vars(module).values():
                options = numba_options(value)
                if options is not None and isinstance(value, types.FunctionType):
                    replaced[id(value)] = numba.njit(cache=True, **options)(
                        _rebind(value, namespace)
                    )
    finally:
        config.CACHE_DIR = saved
    for module in originals:
        namespace = twins[module.__name__].__dict__
        for name, value in vars(module).items():
            twin = replaced.get(id(value))
            namespace[name] = twin if twin is not None else value
    return twins


def _rebind(function: types.FunctionType, namespace: dict[str, Any]) -> types.FunctionType:
    """The same code whose global names are looked up in the twin namespace."""
    copy = types.FunctionType(
        function.__code__, namespace, function.__name__, function.__defaults__, function.__closure__
    )
    copy.__qualname__, copy.__module__ = function.__qualname__, function.__module__
    copy.__doc__ = function.__doc__
    return copy


def prune() -> list[Path]:
    """Remove the compiled loops of other versions (only under ``cache_root()``)."""
    root, keep = cache_root(), source_hash()
    removed = []
    if root.is_dir():
        for entry in root.iterdir():
            if entry.is_dir() and entry.name != keep and len(entry.name) == len(keep):
                shutil.rmtree(entry)
                removed.append(entry)
    return removed
