"""Health of model endpoints: ``/health`` and what llama-server's ``/props`` says about itself.

Kept apart from ``models.py`` (which only describes models) so that the client depends on the model
description and health depends on both, with no import running back.
"""

from __future__ import annotations

from typing import Any

import httpx

from app.config import Settings, get_settings
from app.errors import LLMError
from app.llm.client import LLMClient
from app.llm.models import ModelConfig, ModelHealth


def check_health(model: ModelConfig, client: httpx.Client, settings: Settings | None = None) -> ModelHealth:
    """Health of a model's endpoint plus its server's /props summary (when the server has /props)."""
    settings = settings or get_settings()
    llm = LLMClient.for_model(model, client=client, settings=settings)
    health = llm.health()
    props: dict[str, Any] | None = None
    if health.ok:
        try:
            props = llm.props()
        except LLMError:
            props = None  # health is what this reports; /props is a bonus
    summary = props_summary(props)
    return ModelHealth(
        name=model.name,
        quantization=model.quantization,
        base_url=model.base_url,
        context_length=model.context_length,
        ok=health.ok,
        status=health.status,
        detail=health.detail,
        latency_ms=health.latency_ms,
        **summary,
    )


def props_summary(props: dict[str, Any] | None) -> dict[str, Any]:
    """Per-slot context size, slot count, build and model path out of llama-server's /props."""
    if not props:
        return {}
    settings = props.get("default_generation_settings") or {}
    n_ctx = settings.get("n_ctx", props.get("n_ctx"))
    return {
        "n_ctx": n_ctx if isinstance(n_ctx, int) else None,
        "total_slots": props.get("total_slots") if isinstance(props.get("total_slots"), int) else None,
        "build_info": str(props["build_info"]) if props.get("build_info") else None,
        "model_path": str(props["model_path"]) if props.get("model_path") else None,
    }
