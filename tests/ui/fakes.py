"""Fakes for the page tests: llama-server's and Loki's HTTP APIs in process, and AppTest helpers.

The ``world`` fixture (conftest.py) builds real ``Services`` (demo log source, prompt registry, SQLite store, tracing) whose
shared HTTP client talks to an in-process fake of llama-server's HTTP API (``/health``, ``/props``,
``/tokenize``, streamed ``/v1/chat/completions``) and, when LOKI_URL is set, of an unreachable or slow
Loki; ``app.ui.cache.get_services`` is replaced to hand them to the pages.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
MODEL_HOST = "model.test"
LOKI_HOST = "loki.test"
MODEL_NAME = "tiny-q4_k_m"
GOOD_ANSWER = {
    "root_cause": "dependency_unavailable",
    "confidence": 0.82,
    "evidence": [2, 1],
    "summary": "The API cannot reach Postgres: [click](https://evil.example) <b>refused</b>",
}

ModelMode = Literal["ok", "down", "timeout", "invalid", "slow"]
LokiMode = Literal["down", "timeout"]


@dataclass
class FakeWorld:
    """What the fakes do; tests change the modes before they run the page."""

    model: ModelMode = "ok"
    loki: LokiMode = "down"
    answer: str = json.dumps(GOOD_ANSWER)
    chat_requests: list[dict] = field(default_factory=list)
    timings: dict[str, float] | None = None  # llama-server's timings, sent with the finishing chunk

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Route a request to the fake that owns its host."""
        if request.url.host == LOKI_HOST:
            if self.loki == "timeout":
                raise httpx.ReadTimeout("timed out", request=request)
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if request.url.host == MODEL_HOST:
            return self._llama(request)
        raise httpx.ConnectError(f"no fake for {request.url.host}", request=request)

    def _llama(self, request: httpx.Request) -> httpx.Response:
        if self.model == "down":
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        path = request.url.path
        if path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        if path == "/props":
            return httpx.Response(
                200,
                json={
                    "default_generation_settings": {"n_ctx": 8192},
                    "total_slots": 4,
                    "build_info": "b6000-test",
                    "model_path": "/models/tiny-q4_k_m.gguf",
                },
            )
        if path == "/tokenize":
            content = json.loads(request.content)["content"]
            return httpx.Response(200, json={"tokens": list(range(len(content.split())))})
        if path == "/v1/chat/completions":
            self.chat_requests.append(json.loads(request.content))
            if self.model == "timeout":
                raise httpx.ReadTimeout("timed out", request=request)
            text = "this is not JSON at all" if self.model == "invalid" else self.answer
            return httpx.Response(
                200,
                headers={"content-type": "text/event-stream"},
                content=self._sse(text, slow=self.model == "slow", timings=self.timings),
            )
        return httpx.Response(404, text="File Not Found")

    @staticmethod
    def _sse(text: str, *, slow: bool, timings: dict[str, float] | None = None) -> Iterator[bytes]:
        pieces = [text[i : i + 6] for i in range(0, len(text), 6)]
        for piece in pieces:
            if slow:
                time.sleep(0.2)
            chunk = {
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": piece}}],
            }
            yield f"data: {json.dumps(chunk)}\n\n".encode()
        end = {
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": 900,
                "completion_tokens": len(pieces),
                "total_tokens": 900 + len(pieces),
            },
        }
        if timings is not None:
            end["timings"] = timings
        yield f"data: {json.dumps(end)}\n\n".encode()
        yield b"data: [DONE]\n\n"


def page(name: str) -> AppTest:
    """An AppTest of one page file."""
    return AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=30)


def assert_no_exception(at: AppTest) -> None:
    """No traceback reached the page."""
    assert not at.exception, [e.value for e in at.exception]


def error_texts(at: AppTest) -> list[str]:
    """Title and body of every error alert on the page."""
    return [f"{e.proto.title}: {e.value}" for e in at.error]


def metric(at: AppTest, label: str) -> str:
    """The value of the last metric with this label."""
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r} among {[m.label for m in at.metric]}"
    return values[-1]
