"""The composition root: builds the clients, sources and services every face uses, from settings."""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import httpx
from sqlalchemy import Engine

from app.config import Settings
from app.evals.runner import EvalRunner
from app.llm.models import ModelConfig, default_local_models, get_models
from app.logs.models import LogSource
from app.logs.source import make_log_source
from app.prompts.registry import PromptRegistry
from app.store.db import get_engine
from app.telemetry.tracing import setup_tracing
from app.triage import TriageService


def make_http_client(settings: Settings) -> httpx.Client:
    """The shared HTTP client: explicit timeouts, a pool sized for concurrent evals."""
    timeout = httpx.Timeout(settings.llm_timeout_seconds, connect=settings.llm_connect_timeout_seconds)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
    return httpx.Client(timeout=timeout, limits=limits, follow_redirects=False)


@dataclass
class Services:
    """Everything a face needs, created lazily and once."""

    settings: Settings

    @cached_property
    def http_client(self) -> httpx.Client:
        """The shared HTTP client."""
        return make_http_client(self.settings)

    @cached_property
    def engine(self) -> Engine:
        """The migrated store engine."""
        return get_engine(self.settings.resolved_database_url)

    @cached_property
    def log_source(self) -> LogSource:
        """Loki when LOKI_URL is set, else the demo source."""
        return make_log_source(self.settings, self.http_client)

    @cached_property
    def models(self) -> list[ModelConfig]:
        """The models file's endpoints (or the local SmolLM2 ladder)."""
        return get_models(self.settings)

    @cached_property
    def prompts(self) -> PromptRegistry:
        """The prompt registry."""
        return PromptRegistry(self.settings.prompts_dir, self.engine)

    @cached_property
    def triage(self) -> TriageService:
        """The triage pipeline."""
        return TriageService(
            settings=self.settings,
            log_source=self.log_source,
            models=self.models,
            registry=self.prompts,
            engine=self.engine,
            http_client=self.http_client,
        )

    @cached_property
    def eval_runner(self) -> EvalRunner:
        """The eval runner over the same settings, store, models, prompts and triage pipeline."""
        return EvalRunner(
            settings=self.settings,
            engine=self.engine,
            models=self.models,
            registry=self.prompts,
            triage=self.triage,
            http_client=self.http_client,
        )

    def uses_local_models(self) -> bool:
        """True on the embedded default: no models file, so the local SmolLM2 ladder serves."""
        return self.settings.models_file is None

    @contextmanager
    def local_models_for(
        self, model_name: str, progress: Callable[[str], None] | None = None
    ) -> Generator[None]:
        """Make sure the model's local llama-server runs while a command uses a local model."""
        local_names = {m.name for m in default_local_models(self.settings)}
        if not self.uses_local_models() or model_name not in local_names:
            yield
            return
        from app.llm.server import serve_local_models

        servers = serve_local_models(self.settings, only=[model_name], progress=progress)
        try:
            yield
        finally:
            for server in servers:
                server.stop()


def build_services(settings: Settings) -> Services:
    """Services for these settings, with tracing set up."""
    setup_tracing(settings)
    return Services(settings)
