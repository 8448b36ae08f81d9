"""Eight labelers saving at once, as threads and as processes, on SQLite and PostgreSQL, lose nothing.

Each labeler saves 200 labels over a shared set of 24 examples, so every example is labeled by several
people and each person re-saves their own labels several times. Afterwards there is exactly one labels
row per (example, labeler), holding the last save, and the history has every revision exactly once,
numbered 1..n without gaps. A second scenario races saves of the very same (example, labeler) row: one
person with eight tabs open.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from app.golden import labels as label_store
from app.store.db import get_engine, session_scope
from app.store.tables import LabelHistoryRow, LabelRow
from app.taxonomy import ROOT_CAUSES
from tests.golden.test_labels import LINES, make_example

LABELERS = 8
SAVES = 200
EXAMPLES = 24
CAUSES = [cause for cause in ROOT_CAUSES if cause != "healthy"]

# A hang guard, not a speed limit. The eight labeler processes (spawned) start once per module, since
# start-up is eight fresh interpreters importing SQLAlchemy and pydantic; the tests time the labeling.
WAIT_S = 240
pytestmark = pytest.mark.timeout(WAIT_S + 60)

Save = tuple[str, str, list[int], str]  # example id, root cause, evidence, summary
Done = list[tuple[str, int]]  # (example id, revision) of each save a worker made, in order
Work = Callable[[str, int, Any], Done]  # (store URL, worker number, start barrier) -> saves


def plan(labeler: int) -> list[Save]:
    """What one labeler saves, in order: 200 saves over the shared examples (so many re-saves)."""
    rng = random.Random(labeler)
    return [
        (
            f"ex-{rng.randrange(EXAMPLES):02d}",
            rng.choice(CAUSES),
            sorted(rng.sample(range(len(LINES)), rng.randint(1, 3))),
            f"labeler {labeler} save {n}",
        )
        for n in range(SAVES)
    ]


def label_all(url: str, labeler: int, start: Any) -> Done:
    """Wait for the others, then save this labeler's plan; returns (example id, revision) per save."""
    engine = get_engine(url)
    start.wait(timeout=WAIT_S)
    name = f"labeler-{labeler}"
    return [
        (
            example_id,
            label_store.save_label(engine, example_id, name, cause, evidence, "critical", summary).revision,
        )
        for example_id, cause, evidence, summary in plan(labeler)
    ]


def save_one_label_repeatedly(url: str, worker: int, start: Any) -> Done:
    """One person in eight browser tabs: every worker re-saves the same example under the same name."""
    engine = get_engine(url)
    start.wait(timeout=WAIT_S)
    return [
        (
            "ex-00",
            label_store.save_label(
                engine, "ex-00", "one-person", "oom_killed", [1], "critical", f"{worker}/{n}"
            ).revision,
        )
        for n in range(SAVES // LABELERS)
    ]


# In a labeler process: the barrier all eight wait at (barriers reach processes only when they start).
_process_start: Any = None


def join_labelers(start: Any) -> None:
    """Keep the shared barrier in this labeler process."""
    global _process_start
    _process_start = start


def wait_for_all_labelers() -> None:
    """Return once all eight labeler processes are up (each has imported the app by then)."""
    _process_start.wait(timeout=WAIT_S)


def in_labeler_process(work: Work, url: str, worker: int) -> Done:
    """Run ``work`` in a labeler process, at the barrier the pool's processes share."""
    return work(url, worker, _process_start)


@pytest.fixture(scope="module")
def labeler_processes() -> Iterator[ProcessPoolExecutor]:
    """Eight spawned processes, started (and done importing) before a test sends them work."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(LABELERS)
    with ProcessPoolExecutor(
        LABELERS, mp_context=context, initializer=join_labelers, initargs=(start,)
    ) as pool:
        # Eight tasks that block until eight are running make the pool start all eight processes.
        for future in [pool.submit(wait_for_all_labelers) for _ in range(LABELERS)]:
            future.result(timeout=WAIT_S)
        yield pool


def collect(futures: dict[int, Future[Done]]) -> dict[int, Done]:
    """Each worker's saves; a worker's error is raised here, with its traceback."""
    return {worker: future.result(timeout=WAIT_S) for worker, future in futures.items()}


@pytest.fixture(params=["threads", "processes"])
def eight_at_once(request: pytest.FixtureRequest) -> Callable[[Work, str], dict[int, Done]]:
    """Runs a piece of work as eight workers at once: threads, or spawned processes."""
    if request.param == "threads":

        def in_threads(work: Work, url: str) -> dict[int, Done]:
            start = threading.Barrier(LABELERS)
            with ThreadPoolExecutor(LABELERS) as pool:
                return collect({n: pool.submit(work, url, n, start) for n in range(LABELERS)})

        return in_threads
    pool: ProcessPoolExecutor = request.getfixturevalue("labeler_processes")
    return lambda work, url: collect(
        {n: pool.submit(in_labeler_process, work, url, n) for n in range(LABELERS)}
    )


def check_nothing_lost_or_duplicated(engine: Engine, done: dict[int, Done]) -> None:
    expected_saves: Counter[tuple[str, str]] = Counter()
    last: dict[tuple[str, str], Save] = {}
    for labeler in range(LABELERS):
        for save in plan(labeler):
            key = (save[0], f"labeler-{labeler}")
            expected_saves[key] += 1
            last[key] = save
        # Each labeler saw its own revisions of an example go 1, 2, 3, ... in the order it saved them.
        seen: dict[str, list[int]] = defaultdict(list)
        for example_id, revision in done[labeler]:
            seen[example_id].append(revision)
        for revisions in seen.values():
            assert revisions == list(range(1, len(revisions) + 1))

    with session_scope(engine) as session:
        labels = list(session.scalars(select(LabelRow)))
        history = list(session.scalars(select(LabelHistoryRow)))

    assert len(history) == LABELERS * SAVES
    rows = Counter((row.example_id, row.labeler) for row in labels)
    assert rows == Counter(dict.fromkeys(expected_saves, 1))  # one row per (example, labeler), no more
    revisions: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in history:
        revisions[(row.example_id, row.labeler)].append(row.revision)
    for key, count in expected_saves.items():
        assert sorted(revisions[key]) == list(range(1, count + 1)), key
    for row in labels:
        key = (row.example_id, row.labeler)
        _, cause, evidence, summary = last[key]
        assert (row.revision, row.root_cause, row.evidence, row.summary) == (
            expected_saves[key],
            cause,
            evidence,
            summary,
        )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated store holding the shared examples."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    label_store.import_examples(get_engine(url), [make_example(f"ex-{n:02d}") for n in range(EXAMPLES)])
    return url


def test_eight_labelers_saving_at_once_lose_and_duplicate_nothing(
    store_url: str, eight_at_once: Callable[[Work, str], dict[int, Done]]
) -> None:
    check_nothing_lost_or_duplicated(get_engine(store_url), eight_at_once(label_all, store_url))


def check_one_row_with_every_revision_once(engine: Engine, done: dict[int, Done]) -> None:
    total = LABELERS * (SAVES // LABELERS)
    for saves in done.values():  # each tab saw its own saves get ever higher revisions
        revisions = [revision for _, revision in saves]
        assert revisions == sorted(set(revisions))
    with session_scope(engine) as session:
        labels = list(session.scalars(select(LabelRow)))
        history = {row.revision: row for row in session.scalars(select(LabelHistoryRow))}
    assert sorted(history) == list(range(1, total + 1))
    assert [(row.labeler, row.revision) for row in labels] == [("one-person", total)]
    assert labels[0].summary == history[total].summary  # the row holds the last revision saved


def test_one_labeler_in_eight_tabs_gets_every_revision_exactly_once(
    store_url: str, eight_at_once: Callable[[Work, str], dict[int, Done]]
) -> None:
    check_one_row_with_every_revision_once(
        get_engine(store_url), eight_at_once(save_one_label_repeatedly, store_url)
    )
