"""Eight labelers saving at once, as threads and as processes, on SQLite and PostgreSQL, lose nothing.

Each labeler saves 200 labels over a shared set of 24 examples, so every example is labeled by several
people and each person re-saves their own labels several times. Afterwards there is exactly one labels
row per (example, labeler), holding the last save, and the history has every revision exactly once,
numbered 1..n without gaps.
"""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from app.golden import store
from app.golden.taxonomy import ROOT_CAUSES
from app.store.db import get_engine, session_scope
from app.store.tables import LabelHistoryRow, LabelRow
from tests.golden.test_store import LINES, make_example

LABELERS = 8
SAVES = 200
EXAMPLES = 24
CAUSES = [cause for cause in ROOT_CAUSES if cause != "healthy"]

pytestmark = pytest.mark.timeout(120)

Save = tuple[str, str, list[int], str]  # example id, root cause, evidence, summary


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


def label_all(url: str, labeler: int, start: Any) -> list[tuple[str, int]]:
    """Wait for the others, then save this labeler's plan; returns (example id, revision) per save."""
    engine = get_engine(url)
    start.wait()
    name = f"labeler-{labeler}"
    return [
        (
            example_id,
            store.save_label(engine, example_id, name, cause, evidence, "critical", summary).revision,
        )
        for example_id, cause, evidence, summary in plan(labeler)
    ]


def process_worker(url: str, labeler: int, start: Any, results: Any) -> None:
    """label_all in a child process, sending back its revisions or its error."""
    try:
        results.put((labeler, label_all(url, labeler, start), None))
    except BaseException as exc:  # the parent reports it; a child traceback would be lost
        results.put((labeler, [], f"{type(exc).__name__}: {exc}"))


def run_threads(url: str) -> dict[int, list[tuple[str, int]]]:
    start = threading.Barrier(LABELERS)
    done: dict[int, list[tuple[str, int]]] = {}
    errors: list[str] = []

    def work(labeler: int) -> None:
        try:
            done[labeler] = label_all(url, labeler, start)
        except BaseException as exc:
            errors.append(f"labeler {labeler}: {type(exc).__name__}: {exc}")
            start.abort()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(LABELERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=110)
    assert errors == []
    return done


def run_processes(url: str) -> dict[int, list[tuple[str, int]]]:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(LABELERS)
    results = context.Queue()
    processes = [
        context.Process(target=process_worker, args=(url, n, start, results)) for n in range(LABELERS)
    ]
    for process in processes:
        process.start()
    done: dict[int, list[tuple[str, int]]] = {}
    errors: list[str] = []
    try:
        for _ in processes:  # drain before joining: a child blocks until its result is read
            labeler, revisions, error = results.get(timeout=110)
            if error:
                errors.append(f"labeler {labeler}: {error}")
            done[labeler] = revisions
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    assert errors == []
    return done


def check_nothing_lost_or_duplicated(engine: Engine, done: dict[int, list[tuple[str, int]]]) -> None:
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
    store.import_examples(get_engine(url), [make_example(f"ex-{n:02d}") for n in range(EXAMPLES)])
    return url


def test_eight_labeler_threads_lose_and_duplicate_nothing(store_url: str) -> None:
    check_nothing_lost_or_duplicated(get_engine(store_url), run_threads(store_url))


def test_eight_labeler_processes_lose_and_duplicate_nothing(store_url: str) -> None:
    check_nothing_lost_or_duplicated(get_engine(store_url), run_processes(store_url))
