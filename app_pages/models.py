"""Models: every endpoint with its health, what its GGUF really holds, server details and a latency probe."""

from __future__ import annotations

import streamlit as st

from app.llm.gguf_info import GGUFSummary
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


def _gguf(name: str) -> GGUFSummary | None:
    # The file table is a bonus: a model served elsewhere (or an unreadable file) shows no weights row.
    with components.error_boundary("reading the GGUF file"):
        return cache.gguf_summary(name)
    return None


def overview(models: list[ModelConfig], health: dict[str, ModelHealth]) -> None:
    """One row per endpoint: name, quantization, what the file holds, health and context."""
    rows = []
    for model in models:
        h = health.get(model.name)
        gguf = _gguf(model.name)
        rows.append(
            {
                "model": model.name,
                "quantization": model.quantization,
                "weights (from the GGUF)": gguf.describe() if gguf else "—",
                "file (MB)": round(gguf.size_bytes / 1e6, 1) if gguf else None,
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
        if model.note:
            st.caption(components.escape_markdown(model.note))
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
                {"field": "weights (from the GGUF)", "value": weights_text(_gguf(model.name))},
                {"field": "derived from", "value": model.derived_from or "—"},
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


def weights_text(gguf: GGUFSummary | None) -> str:
    """The tensor types of a model's file and its size, or why they are not shown."""
    if gguf is None:
        return "— (the file is not on this machine)"
    return f"{gguf.describe()}; {gguf.size_bytes / 1e6:.1f} MB, {gguf.parameters / 1e6:.0f}M weights"


def main() -> None:
    """The Models page."""
    head, refresh = st.columns([5, 1], vertical_alignment="bottom")
    head.title("Models", anchor=False)
    if refresh.button("Refresh health", icon=":material/refresh:", key="models.refresh"):
        cache.model_health.clear()
    if cache.uses_local_models():
        st.caption(
            "The embedded default: SmolLM2-135M-Instruct, one local llama-server per quantization. Q4_1 is "
            "the released file; every other rung is requantized from it, so none can be more accurate than "
            "Q4_1. The weights column is read from each file's own tensor table: llama-quantize keeps the "
            "token embedding at Q8_0 and falls back where a type's blocks do not fit SmolLM2's rows."
        )
    else:
        st.caption("The endpoints of the models file: one model and quantization each.")
    with components.error_boundary("loading models"):
        models = cache.models()
        health = cache.models_health()
        overview(models, health)
        for model in models:
            model_card(model, health.get(model.name))


main()
