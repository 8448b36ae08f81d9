"""Page tests run the real pages and the real library on fakes of the outside world (see fakes.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import streamlit as st
import yaml

from app.config import get_settings
from app.logs.demo import DemoLogSource
from app.services import Services, build_services
from app.ui import cache
from tests.ui.fakes import MODEL_HOST, MODEL_NAME, FakeWorld


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWorld]:
    """Fakes of llama-server (and Loki when LOKI_URL is set) behind real Services given to the pages."""
    models_file = tmp_path / "models.yaml"
    entry = {
        "name": MODEL_NAME,
        "base_url": f"http://{MODEL_HOST}:8080",
        "quantization": "Q4_K_M",
        "context_length": 8192,
        "gguf_file": "tiny-q4_k_m.gguf",
        "family": "logtriage-tiny",
    }
    models_file.write_text(yaml.safe_dump({"models": [entry]}), encoding="utf-8")
    monkeypatch.setenv("MODELS_FILE", str(models_file))
    monkeypatch.setenv("LOKI_MAX_RETRIES", "0")
    fake = FakeWorld()
    holder: dict[str, Services] = {}

    def services() -> Services:
        if "svc" not in holder:
            get_settings.cache_clear()
            svc = build_services(get_settings())
            # cached_property lives in the instance dict: the shared client is set before anything uses it.
            svc.__dict__["http_client"] = httpx.Client(transport=httpx.MockTransport(fake.handle))
            if not svc.settings.loki_url:
                # The demo re-times its logs to end at each minute's "now": a test that crosses a
                # minute would preview one set of lines and triage another. Its clock stops here.
                frozen = datetime.now(UTC)
                svc.__dict__["log_source"] = DemoLogSource(now=lambda: frozen)
            holder["svc"] = svc
        return holder["svc"]

    monkeypatch.setattr(cache, "get_services", services)
    st.cache_data.clear()
    yield fake
    st.cache_data.clear()
    if "svc" in holder:
        holder["svc"].http_client.close()
