"""Running a function over many items: in this process for a few, else in forked workers."""

from __future__ import annotations

import os

POOL_THRESHOLD = 24  # items before a process pool pays for itself
_TRIM: list = []  # glibc's malloc_trim, once looked up (None where there is none)


def release_memory() -> None:
    """Give the heap freed since (a large file's syntax tree) back to the system: glibc keeps it
    otherwise, and a worker stays as large as the largest file it has read."""
    if not _TRIM:
        try:
            import ctypes

            _TRIM.append(ctypes.CDLL("libc.so.6").malloc_trim)
        except (OSError, AttributeError):
            _TRIM.append(None)
    if _TRIM[0] is not None:
        _TRIM[0](0)


def pool_map(func, items: list, initializer, initargs: tuple, jobs: int | None, progress=None, max_chunk: int = 16):
    """func over items, in order, yielding each result as it is ready: in this process for a few
    items, else in a pool of forked workers, each set up once by initializer(*initargs).
    `progress(advance=1)` is called per result."""
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    pool = None
    if jobs <= 1 or len(items) < POOL_THRESHOLD:
        initializer(*initargs)
        results = map(func, items)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=context,
                                   initializer=initializer, initargs=initargs)
        results = pool.map(func, items, chunksize=max(1, min(max_chunk, len(items) // (jobs * 4))))
    try:
        for result in results:
            if progress is not None:
                progress(advance=1)
            yield result
    finally:
        if pool is not None:
            pool.shutdown()
