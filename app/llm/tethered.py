"""Child processes that die with the process that started them, even when it is killed with SIGKILL.

A local llama-server started for one command (a triage, an eval, ``serve-models``) must not outlive
it. ``atexit`` and ``finally`` blocks cover normal exits and Ctrl-C, but not ``kill -9``, an OOM kill or
a crash. On Linux the kernel can do it: ``PR_SET_PDEATHSIG`` asks for a signal when the parent dies.

Two details make that robust:

* The death signal fires when the *thread* that forked the child exits, not the process. A server
  started from a short-lived thread (a dashboard script run, a worker) would be killed with that thread.
  So every tethered child is forked by one daemon thread that lives exactly as long as the process.
* ``preexec_fn`` is unsafe in a process with threads (it runs Python between fork and exec), so the
  child first runs a tiny Python launcher that sets the death signal, checks that its parent is still
  the process that asked (else the parent died before the signal was armed) and then ``exec``s the real
  program; the death signal survives ``exec``.

Elsewhere than Linux the program is started directly (no tether); ``atexit`` still stops it.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

PR_SET_PDEATHSIG = 1

# Runs in the child: arm the death signal, make sure the parent is still there, become the program.
_LAUNCHER = """\
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) != 0:
    sys.exit("tethered launcher: prctl(PR_SET_PDEATHSIG) failed: " + os.strerror(ctypes.get_errno()))
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)
os.execv(sys.argv[2], sys.argv[2:])
"""


def supported() -> bool:
    """Whether children can be tethered here (Linux)."""
    return sys.platform.startswith("linux")


def launcher_command(command: Sequence[str], parent_pid: int) -> list[str]:
    """The command line that runs ``command`` tethered to the process ``parent_pid``."""
    # -I: isolated (no user site, no env vars, no cwd on the path), -S: skip site: starts in ~20 ms.
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(parent_pid), *command]


class _Spawner(threading.Thread):
    """The one thread that forks tethered children; a daemon, so it ends only with the process."""

    def __init__(self) -> None:
        super().__init__(name="tethered-spawner", daemon=True)
        self.jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()

    def run(self) -> None:
        while True:
            job, future = self.jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as exc:
                future.set_exception(exc)


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()


def _get_spawner() -> _Spawner:
    global _spawner
    with _spawner_lock:
        # After a fork (multiprocessing) the thread object is copied but no thread runs it.
        if _spawner is None or not _spawner.is_alive():
            _spawner = _Spawner()
            _spawner.start()
        return _spawner


def popen_tethered(
    command: Sequence[str],
    *,
    stdout: Any = None,
    stderr: Any = None,
    stdin: Any = None,
    cwd: str | os.PathLike[str] | None = None,
) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(command)`` (bytes I/O) whose process is killed (SIGKILL) when this process dies."""

    def start(argv: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, stdout=stdout, stderr=stderr, stdin=stdin, cwd=cwd)

    if not supported():
        return start(list(command))
    full = launcher_command(command, os.getpid())
    spawner = _get_spawner()
    if threading.current_thread() is spawner:
        return start(full)
    future: Future[subprocess.Popen[bytes]] = Future()
    spawner.jobs.put((lambda: start(full), future))
    return future.result()
