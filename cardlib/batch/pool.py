"""Process pools whose workers die with the process that made them.

A :class:`~concurrent.futures.ProcessPoolExecutor` worker waits on a pipe its siblings also hold open, so
when its parent is killed (``kill -9``, the OOM killer) it never sees the end of its work queue and lives
on, holding memory, open files and token sessions.  Every pool in cardlib and cardtool is made by
:func:`process_pool`, whose workers first call :func:`die_with_parent`:

* on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker the moment its parent exits
  (then the worker checks its parent did not already die before the call: that death sent no signal);
* elsewhere, a daemon thread polls ``os.getppid()`` every :data:`WATCH_INTERVAL` seconds and ends the
  worker when it changes (an orphan is adopted by another process).

The signal follows the worker's direct parent: the process that made the pool with the ``fork`` and
``spawn`` start methods, the forkserver with ``forkserver`` (which itself exits when that process dies).
With ``PR_SET_PDEATHSIG`` "parent" is the parent *thread*: make pools from a thread that outlives them.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

WATCH_INTERVAL = 0.5
"""Seconds between two looks at the parent pid by the fallback watchdog thread."""
ORPHAN_EXIT_STATUS = 70
"""Exit status of a worker that ends because its parent died."""
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def process_pool(workers: int, initializer: Callable[..., object] | None = None,
                 initargs: tuple[Any, ...] = ()) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes that each call :func:`die_with_parent`, then ``initializer(*initargs)``."""
    context = multiprocessing.get_context()
    parent = os.getpid() if context.get_start_method() in ("fork", "spawn") else None
    return ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                               initargs=(parent, initializer, initargs))


def _start_worker(parent: int | None, initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def die_with_parent(parent: int | None = None) -> None:
    """End this process as soon as its parent process dies (see the module docstring for how).

    ``parent`` is the pid this process's parent had when it was started, if known: a parent that already
    died (the process was adopted) ends this process at once.
    """
    expected = os.getppid() if parent is None else parent
    if not _set_parent_death_signal(signal.SIGKILL):
        threading.Thread(target=_watch_parent, args=(expected,), daemon=True, name="parent-watch").start()
    if os.getppid() != expected:
        os._exit(ORPHAN_EXIT_STATUS)


def _set_parent_death_signal(signum: int) -> bool:
    """Ask the Linux kernel to send ``signum`` to this process when its parent exits; False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)  # the C library this interpreter is linked with
    return int(libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)) == 0


def _watch_parent(parent: int) -> None:
    """Fallback watchdog: end the process once its parent pid is no longer ``parent``."""
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    os._exit(ORPHAN_EXIT_STATUS)
