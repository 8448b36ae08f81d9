"""Tethered children: started through one long-lived thread, killed by the kernel when their parent dies."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from app.llm import tethered
from tests.conftest import require_component
from tests.fixtures.llama import process_gone, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def parent_death_signal() -> None:
    """These tests need the kernel's parent death signal; on CI (Linux) its absence is a failure."""
    require_component(tethered.supported(), "PR_SET_PDEATHSIG", "run on Linux")


def test_the_child_runs_the_program_itself_with_its_arguments(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with out.open("wb") as handle:
        child = tethered.popen_tethered(["/bin/echo", "hello", "tethered world"], stdout=handle)
        assert child.wait() == 0
    assert out.read_text() == "hello tethered world\n"


def test_a_child_started_from_a_short_lived_thread_outlives_that_thread() -> None:
    children: list[subprocess.Popen[bytes]] = []
    worker = threading.Thread(target=lambda: children.append(tethered.popen_tethered(["sleep", "60"])))
    worker.start()
    worker.join()
    (child,) = children
    try:
        # The death signal follows the thread that forked; that thread must be the long-lived spawner.
        assert child.poll() is None
        assert not process_gone(child.pid)
    finally:
        child.kill()
        child.wait()


PARENT = textwrap.dedent(
    """
    import threading, time
    from app.llm.tethered import popen_tethered

    children = []
    worker = threading.Thread(target=lambda: children.append(popen_tethered(["sleep", "600"])))
    worker.start()
    worker.join()
    print(children[0].pid, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_children_die_when_their_parent_is_killed(sig: signal.Signals) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert not process_gone(child_pid)
        parent.send_signal(sig)
        parent.wait()
        assert wait_until(lambda: process_gone(child_pid)), (
            f"child {child_pid} outlived its parent ({sig.name})"
        )
    finally:
        parent.kill()
        parent.wait()


def test_launcher_refuses_to_start_an_orphan() -> None:
    # The launcher is told its parent is a process that is not its parent: it must not run the program.
    command = tethered.launcher_command(["/bin/echo", "should not run"], parent_pid=1)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stdout == ""
