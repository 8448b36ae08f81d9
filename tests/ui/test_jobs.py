"""The background job that live triage and live evals share: reports in order, one failure line, cancel."""

from __future__ import annotations

import threading

from app.errors import LokiConnectError
from app.ui.jobs import BackgroundJob, JobFailure, Report

WAIT_S = 30


def finished(job: BackgroundJob) -> list[object]:
    """Everything the job reported, once its thread is done."""
    job.thread.join(WAIT_S)
    assert not job.thread.is_alive()
    return job.drain()


def test_reports_arrive_in_order_and_the_end_is_marked() -> None:
    def work(cancel: threading.Event, report: Report) -> None:
        for number in range(3):
            report(number)

    job = BackgroundJob(work, name="test-job").start()
    assert finished(job) == [0, 1, 2]
    assert job.done
    assert job.failure is None
    assert job.elapsed_s() >= 0


def test_a_library_error_ends_the_job_with_its_kind_and_a_redacted_line() -> None:
    def work(cancel: threading.Event, report: Report) -> None:
        raise LokiConnectError("could not connect to http://admin:hunter2@loki:3100")

    job = BackgroundJob(work, name="test-job").start()
    (failure,) = finished(job)
    assert isinstance(failure, JobFailure)
    assert failure.kind == "loki_connect"
    assert "hunter2" not in failure.message
    assert job.failure == failure


def test_a_bug_is_an_internal_failure_not_a_crash() -> None:
    def work(cancel: threading.Event, report: Report) -> None:
        raise KeyError("surprise")

    job = BackgroundJob(work, name="test-job").start()
    (failure,) = finished(job)
    assert isinstance(failure, JobFailure)
    assert failure.kind == "internal"
    assert "surprise" in failure.message
    assert "\n" not in failure.message


def test_cancel_reaches_the_work() -> None:
    started = threading.Event()

    def work(cancel: threading.Event, report: Report) -> None:
        started.set()
        assert cancel.wait(WAIT_S)
        report("stopped")

    job = BackgroundJob(work, name="test-job").start()
    assert started.wait(WAIT_S)
    job.cancel.set()
    assert finished(job) == ["stopped"]
