"""Models: every endpoint of the models file with its health, server details and a latency probe."""

from __future__ import annotations

import streamlit as st

from app.llm.models import ModelConfig, ModelHealth
from app.ui import cache, components

PROBE_KEY = "models.probe"
HEALTH_COLORS = {
    "up": "#10b981",
    "loading": "#f59e0b",
    "unreachable": "#ef4444",
    "timeout": "#ef4444",
    "error": "#ef4444",
    "unknown": "#94a3b8",
}


def overview(models: list[ModelConfig], health: dict[str, ModelHealth]) -> None:
    """One row per endpoint: name, quantization, health and context."""
    rows = []
    for model in models:
        h = health.get(model.name)
        rows.append(
            {
                "model": model.name,
                "quantization": model.quantization,
                "health": ["up" if h and h.ok else (h.status if h else "unknown")],
                "health latency (ms)": round(h.latency_ms, 1) if h else None,
                "context (file)": model.context_length,
                "context (server)": h.n_ctx if h else None,
                "slots": h.total_slots if h else None,
                "base url": model.base_url,
            }
        )
    st.dataframe(
        rows,
        hide_index=True,
        column_config={
            "health": st.column_config.MultiselectColumn(
                "health", options=list(HEALTH_COLORS), color=list(HEALTH_COLORS.values()), width="small"
            ),
            "base url": st.column_config.TextColumn("base url", width="medium"),
        },
    )


def model_card(model: ModelConfig, health: ModelHealth | None) -> None:
    """An endpoint's health, /props details, configuration and the latency probe."""
    with st.container(border=True):
        title, button = st.columns([4, 1], vertical_alignment="center")
        title.subheader(components.escape_markdown(model.name), anchor=False)
        probe = button.button(
            "Probe latency", key=f"models.probe_button.{model.name}", icon=":material/speed:"
        )
        cols = st.columns(4)
        if health is None:
            cols[0].metric("Health", "unknown")
        else:
            cols[0].metric("Health", "up" if health.ok else health.status)
            cols[1].metric("Health check", components.format_ms(health.latency_ms))
        cols[2].metric(
            "Context per slot",
            f"{health.n_ctx:,}" if health and health.n_ctx else f"{model.context_length:,}",
            help="From the server's /props when it has one, else from the models file",
        )
        cols[3].metric("Slots", f"{health.total_slots}" if health and health.total_slots else "—")
        if health is not None and not health.ok:
            components.model_down_box(health, local=cache.uses_local_models())
        st.dataframe(
            [
                {"field": "base URL", "value": model.base_url},
                {"field": "quantization", "value": model.quantization},
                {"field": "GGUF file", "value": model.gguf_file or "—"},
                {"field": "family", "value": model.model_family},
                {"field": "context (models file)", "value": f"{model.context_length:,}"},
                {"field": "build", "value": (health.build_info if health else None) or "—"},
                {"field": "model path", "value": (health.model_path if health else None) or "—"},
            ],
            hide_index=True,
            column_config={"value": st.column_config.TextColumn("value", width="large")},
        )
        probes = st.session_state.setdefault(PROBE_KEY, {})
        if probe:
            probes.pop(model.name, None)
            with components.error_boundary("probing the model"):
                probes[model.name] = cache.probe_latency(model.name)
        stats = probes.get(model.name)
        if stats is not None:
            st.caption("Latency probe: a chat completion of at most a few tokens")
            components.latency_readout(
                stats.total_ms, stats.ttft_ms, stats.tokens_per_s, stats.completion_tokens
            )


def main() -> None:
    """The Models page."""
    head, refresh = st.columns([5, 1], vertical_alignment="bottom")
    head.title("Models", anchor=False)
    if refresh.button("Refresh health", icon=":material/refresh:", key="models.refresh"):
        cache.model_health.clear()
    st.caption("The endpoints of the models file: one model and quantization each.")
    with components.error_boundary("loading models"):
        models = cache.models()
        health = cache.models_health()
        overview(models, health)
        for model in models:
            model_card(model, health.get(model.name))


main()
