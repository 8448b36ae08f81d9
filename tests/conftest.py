"""Shared test setup: isolated settings per test and the rule for tests that need a real component."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import get_settings

pytest_plugins = [
    "tests.fixtures.llama",
    "tests.fixtures.fake_loki",
    "tests.fixtures.otlp",
    "tests.fixtures.postgres",
    "tests.fixtures.pushgateway",
]


def require_component(available: bool, what: str, how: str) -> None:
    """Fail (in CI) or skip (elsewhere) a test whose real component is missing.

    In CI a missing component is a broken setup, not a reason to pass silently.
    """
    if available:
        return
    message = f"{what} is not available: {how}"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set and {message}")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point data dir, database and telemetry at per-test places so tests never touch a user's files."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("LOKI_URL", raising=False)
    monkeypatch.delenv("MODELS_FILE", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("PUSHGATEWAY_URL", raising=False)
    monkeypatch.setenv("METRICS_PORT", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
