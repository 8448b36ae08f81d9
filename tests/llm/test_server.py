"""Finding, building and running llama-server."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.errors import ModelServerError
from app.llm import server as server_module
from app.llm.health import check_health
from app.llm.models import default_local_models
from app.llm.server import (
    LLAMA_CPP_PYTHON_VERSION,
    LocalModelServer,
    build_dir,
    build_log_path,
    cmake_commands,
    download_sdist,
    ensure_llama_quantize,
    ensure_llama_server,
    sdist_path,
    serve_local_models,
    source_dir,
)
from tests.fixtures.llama import (
    LlamaBinaries,
    SmolLM2Ladder,
    executable,
    fake_pip_command,
    free_port,
    process_gone,
    wait_until,
)

SDIST_NAME = f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LLAMA_SERVER_BIN", raising=False)
    return Settings()


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- finding and building ---------------------------------------------------------------------------------


def test_llama_server_bin_is_used_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    binary = executable(tmp_path / "opt" / "llama-server")
    quantize = executable(tmp_path / "opt" / "llama-quantize")
    monkeypatch.setenv("LLAMA_SERVER_BIN", str(binary))
    settings = Settings()
    assert ensure_llama_server(settings) == binary
    assert ensure_llama_quantize(settings) == quantize


@pytest.mark.parametrize("make", ["missing", "not-executable"])
def test_llama_server_bin_that_cannot_run_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: str
) -> None:
    binary = tmp_path / "llama-server"
    if make == "not-executable":
        binary.write_text("not a program")
    monkeypatch.setenv("LLAMA_SERVER_BIN", str(binary))
    with pytest.raises(ModelServerError, match="is not an executable file"):
        ensure_llama_server(Settings())


def test_a_cached_build_is_found_without_building(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = executable(build_dir(settings) / "bin" / "llama-server")
    executable(build_dir(settings) / "bin" / "llama-quantize")

    def no_build(*args: object, **kwargs: object) -> Path:
        raise AssertionError("must not build when the binaries are cached")

    monkeypatch.setattr(server_module, "build_llama_cpp", no_build)
    assert ensure_llama_server(settings) == cached
    assert ensure_llama_quantize(settings) == cached.with_name("llama-quantize")
    assert cached.parent == settings.cache_dir / f"build-{LLAMA_CPP_PYTHON_VERSION}" / "bin"


def test_concurrent_callers_build_once(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[int] = []

    def slow_build(settings: Settings, **kwargs: object) -> Path:
        builds.append(1)
        time.sleep(0.3)
        executable(build_dir(settings) / "bin" / "llama-server")
        executable(build_dir(settings) / "bin" / "llama-quantize")
        return build_dir(settings) / "bin"

    monkeypatch.setattr(server_module, "build_llama_cpp", slow_build)
    messages: list[str] = []
    results: list[Path] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(ensure_llama_server(settings, progress=messages.append))
        )
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1
    assert results == [build_dir(settings) / "bin" / "llama-server"] * 3
    assert any("another process is building" in m for m in messages)


def test_cmake_commands_use_the_portable_flags() -> None:
    configure, build = cmake_commands(Path("/src"), Path("/build"), jobs=2)
    assert configure == [
        "cmake", "-S", "/src", "-B", "/build",
        "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=OFF", "-DGGML_AVX=ON", "-DGGML_AVX2=ON", "-DGGML_FMA=ON",
        "-DGGML_F16C=ON", "-DGGML_AVX512=OFF", "-DGGML_AMX_TILE=OFF", "-DGGML_AMX_INT8=OFF", "-DGGML_AMX_BF16=OFF",
        "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_UI=OFF",
        "-DLLAMA_USE_PREBUILT_UI=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_CURL=OFF",
    ]  # fmt: skip
    assert build == ["cmake", "--build", "/build", "--target", "llama-server", "llama-quantize", "-j", "2"]


def fake_sdist() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        data = b"cmake_minimum_required(VERSION 3.14)\n"
        info = tarfile.TarInfo(f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}/vendor/llama.cpp/CMakeLists.txt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def fake_pip(tmp_path: Path, sdist: bytes, calls: Path) -> list[str]:
    """A pip stand-in that records its arguments and writes ``sdist`` into --dest, as pip download does."""
    return fake_pip_command(tmp_path, SDIST_NAME, sdist, calls)


def test_sdist_is_downloaded_with_pip_verified_and_then_reused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sdist = fake_sdist()
    monkeypatch.setattr(server_module, "LLAMA_CPP_PYTHON_SDIST_SHA256", hashlib.sha256(sdist).hexdigest())
    calls = tmp_path / "calls.txt"
    pip = fake_pip(tmp_path, sdist, calls)
    path = download_sdist(settings, pip_command=pip)
    assert path == sdist_path(settings)
    assert path.read_bytes() == sdist
    args = calls.read_text().split()
    assert args[:4] == ["download", "--no-deps", "--no-binary", ":all:"]
    assert f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}" in args
    download_sdist(settings, pip_command=pip)
    assert len(calls.read_text().splitlines()) == 1  # verified file on disk: no second download


def test_sdist_with_the_wrong_hash_is_rejected(settings: Settings, tmp_path: Path) -> None:
    pip = fake_pip(tmp_path, fake_sdist(), tmp_path / "calls.txt")
    with pytest.raises(ModelServerError, match="sha256"):
        download_sdist(settings, pip_command=pip)
    assert not sdist_path(settings).exists()
    assert [p for p in sdist_path(settings).parent.iterdir() if p.name.startswith("download-")] == []


def test_pip_failure_is_reported_with_its_last_words(settings: Settings, tmp_path: Path) -> None:
    pip = [
        str(
            executable(
                tmp_path / "pip", "#!/bin/sh\necho 'ERROR: No matching distribution found' >&2\nexit 1\n"
            )
        )
    ]
    with pytest.raises(ModelServerError, match="No matching distribution"):
        download_sdist(settings, pip_command=pip)


def test_failed_build_names_its_log(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    sdist = fake_sdist()
    monkeypatch.setattr(server_module, "LLAMA_CPP_PYTHON_SDIST_SHA256", hashlib.sha256(sdist).hexdigest())
    sdist_path(settings).parent.mkdir(parents=True)
    sdist_path(settings).write_bytes(sdist)
    tools = tmp_path / "tools"
    executable(tools / "cmake", "#!/bin/sh\necho 'CMake Error: no compiler works' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")

    with pytest.raises(ModelServerError) as caught:
        ensure_llama_server(settings)
    assert str(build_log_path(settings)) in str(caught.value)
    assert "CMake Error: no compiler works" in caught.value.user_message()
    assert (source_dir(settings) / "CMakeLists.txt").exists()  # extracted from the sdist


# --- running ------------------------------------------------------------------------------------------------


@pytest.mark.llama
def test_local_server_starts_serves_and_stops(
    llama_binaries: LlamaBinaries, tiny_models: dict[str, Path], tmp_path: Path, llm_http: httpx.Client
) -> None:
    local = LocalModelServer(
        llama_binaries.server, tiny_models["Q8_0"], port=free_port(), parallel=2, context_length=1024,
        alias="tiny-q8_0", log_path=tmp_path / "server.log",
    )  # fmt: skip
    with local:
        props = llm_http.get(f"{local.base_url}/props").json()
        assert props["total_slots"] == 2
        assert props["default_generation_settings"]["n_ctx"] == 1024  # per slot, as asked
        assert props["model_path"].endswith(tiny_models["Q8_0"].name)
        models = llm_http.get(f"{local.base_url}/v1/models").json()
        assert [m["id"] for m in models["data"]] == ["tiny-q8_0"]
        assert llm_http.get(f"{local.base_url}/metrics").status_code == 200  # --metrics is on
        pid = local.pid
        assert pid is not None
    assert local.pid is None
    assert not port_open(local.port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.llama
def test_port_in_use_is_reported_or_reused(
    llama_binaries: LlamaBinaries, llama_server: LocalModelServer
) -> None:
    same_port = LocalModelServer(llama_binaries.server, llama_server.model_path, port=llama_server.port)
    with pytest.raises(ModelServerError, match="already in use"):
        same_port.start()
    same_port.start(reuse_running=True)
    assert not same_port.owned
    same_port.stop()
    assert port_open(llama_server.port)  # the running server was left alone


@pytest.mark.llama
def test_server_that_cannot_load_the_model_names_its_log(
    llama_binaries: LlamaBinaries, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    local = LocalModelServer(
        llama_binaries.server, broken, port=free_port(), log_path=tmp_path / "broken.log"
    )
    with pytest.raises(ModelServerError, match=r"exited with code \d+ while starting; see .*broken.log"):
        local.start(timeout_s=30)
    assert local.pid is None


def free_port_run(count: int) -> int:
    """The first of ``count`` consecutive ports on 127.0.0.1 that nothing listens on."""
    for _ in range(50):
        port = free_port()
        if port + count <= 65535 and not any(port_open(port + i) for i in range(1, count)):
            return port
    raise RuntimeError(f"no {count} consecutive free ports")


@pytest.mark.llama
def test_a_healthy_server_of_another_model_is_not_reused(
    llama_binaries: LlamaBinaries, llama_server: LocalModelServer, tiny_models: dict[str, Path]
) -> None:
    other = LocalModelServer(llama_binaries.server, tiny_models["Q8_0"], port=llama_server.port)
    with pytest.raises(ModelServerError, match="already in use by a server of another model"):
        other.start(reuse_running=True)


@pytest.mark.llama
def test_serve_local_models_runs_one_server_per_rung_of_the_ladder(
    llama_binaries: LlamaBinaries,
    smollm2_ladder: SmolLM2Ladder,
    monkeypatch: pytest.MonkeyPatch,
    llm_http: httpx.Client,
) -> None:
    monkeypatch.setenv("LLAMA_SERVER_BIN", str(llama_binaries.server))
    monkeypatch.setenv("CACHE_DIR", str(smollm2_ladder.cache_dir))
    monkeypatch.setenv("LOCAL_MODEL_PORT", str(free_port_run(4)))
    monkeypatch.setenv("LOCAL_MODEL_PARALLEL", "1")
    monkeypatch.setenv("LOCAL_MODEL_CONTEXT", "1024")
    settings = Settings()
    wanted = [m for m in default_local_models(settings) if m.quantization in ("Q4_1", "Q4_0")]
    messages: list[str] = []
    servers = serve_local_models(
        settings, only={m.name for m in wanted}, progress=messages.append, timeout_s=90
    )
    try:
        assert [s.alias for s in servers] == [m.name for m in wanted]
        assert all(s.owned for s in servers)
        for model in wanted:
            health = check_health(model, llm_http, settings)
            assert health.ok, health.detail
            assert (health.total_slots, health.n_ctx) == (1, 1024)
            assert health.model_path is not None
            assert Path(health.model_path).name == model.gguf_file
        assert [m for m in messages if m.startswith("starting")] == [
            f"starting {m.name} on {m.base_url}" for m in wanted
        ]
        # Another command (a dashboard, a triage) reuses them, says so, and leaves them running.
        again: list[str] = []
        reused = serve_local_models(settings, only={m.name for m in wanted}, progress=again.append)
        assert not any(s.owned for s in reused)
        assert [m for m in again if m.startswith(("starting", "using"))] == [
            f"using the running {m.name} on {m.base_url}" for m in wanted
        ]
        for server in reused:
            server.stop()
        assert all(port_open(s.port) for s in servers)
    finally:
        for server in servers:
            server.stop()
    assert not any(port_open(s.port) for s in servers)


# --- servers die with their command (kill -9 included) ------------------------------------------------


# A command that starts a llama-server the way triage and evals do, but from a worker thread that has
# already ended (the death signal must follow the process, not that thread), then waits to be killed.
SPAWNING_COMMAND = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from app.llm.server import LocalModelServer

    binary, model, port, log = sys.argv[1:5]
    started = []

    def start() -> None:
        server = LocalModelServer(Path(binary), Path(model), port=int(port), parallel=1,
                                  context_length=512, alias="tiny", log_path=Path(log))
        started.append(server.start(timeout_s=60))

    worker = threading.Thread(target=start)
    worker.start()
    worker.join()
    print(started[0].pid, flush=True)
    time.sleep(600)
    """
)


@pytest.mark.llama
def test_servers_die_when_their_command_is_killed_with_sigkill(
    llama_binaries: LlamaBinaries, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    port = free_port()
    command = subprocess.Popen(
        [sys.executable, "-c", SPAWNING_COMMAND, str(llama_binaries.server), str(tiny_models["Q8_0"]),
         str(port), str(tmp_path / "server.log")],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        assert command.stdout is not None
        server_pid = int(command.stdout.readline())
        # The thread that started the server has ended; the server must still answer.
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
        assert not process_gone(server_pid)
        command.send_signal(signal.SIGKILL)
        command.wait()
        assert wait_until(lambda: process_gone(server_pid)), f"llama-server {server_pid} outlived its command"
        assert wait_until(lambda: not port_open(port))
    finally:
        command.kill()
        command.wait()
