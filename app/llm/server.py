"""The local llama.cpp ``llama-server``: find or build it once, and run it on the local models.

The build uses the llama.cpp sources vendored in the llama-cpp-python sdist (pinned version and sha256),
fetched from PyPI through its Simple API, so a fresh machine needs only Python, uv, cmake and a C++
compiler. Layout under ``CACHE_DIR``::

    src/llama_cpp_python-<version>.tar.gz        the verified sdist
    src/llama_cpp_python-<version>/vendor/llama.cpp   its sources
    build-<version>/bin/llama-server, llama-quantize  the build
    build-<version>.log                          configure + build output

The servers it starts are tethered (``app/llm/tethered.py``): they die with the command that started
them, even when that command is killed with SIGKILL.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from app.config import Settings
from app.errors import LLMError, ModelServerError
from app.llm import smollm2
from app.llm.client import LLMClient
from app.llm.fetch import Progress, file_lock, pip_download, say
from app.llm.models import default_local_models
from app.llm.tethered import popen_tethered

log = logging.getLogger(__name__)

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
LLAMA_CPP_PYTHON_SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"

# GGML_NATIVE=OFF with an explicit AVX2 baseline: -march=native dies with SIGILL on quantized models on
# machines whose CPUs report AMX that the sandbox forbids. LLAMA_USE_PREBUILT_UI=OFF: the build would
# otherwise try to download the web UI. No curl/openssl: the server never fetches models itself.
CMAKE_FLAGS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF",
    "-DGGML_AVX=ON",
    "-DGGML_AVX2=ON",
    "-DGGML_FMA=ON",
    "-DGGML_F16C=ON",
    "-DGGML_AVX512=OFF",
    "-DGGML_AMX_TILE=OFF",
    "-DGGML_AMX_INT8=OFF",
    "-DGGML_AMX_BF16=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_CURL=OFF",
)
BUILD_TARGETS = ("llama-server", "llama-quantize")

_STOP_GRACE_S = 10.0
_HEALTH_TIMEOUT = httpx.Timeout(2.0)
_SOURCES_HINT = "or set LLAMA_SERVER_BIN to an existing llama-server"


# --- where things live -----------------------------------------------------------------------------------


def build_dir(settings: Settings) -> Path:
    """The cmake build directory of the pinned llama.cpp."""
    return settings.cache_dir / f"build-{LLAMA_CPP_PYTHON_VERSION}"


def sdist_path(settings: Settings) -> Path:
    """Where the verified llama-cpp-python sdist is kept."""
    return settings.cache_dir / "src" / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}.tar.gz"


def source_dir(settings: Settings) -> Path:
    """The llama.cpp sources inside the extracted sdist."""
    return (
        settings.cache_dir / "src" / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}" / "vendor" / "llama.cpp"
    )


def build_log_path(settings: Settings) -> Path:
    """The configure + build log."""
    return settings.cache_dir / f"build-{LLAMA_CPP_PYTHON_VERSION}.log"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_llama_binary(settings: Settings, name: str) -> Path | None:
    """An existing ``llama-server``/``llama-quantize``: next to LLAMA_SERVER_BIN, else the cached build."""
    if settings.llama_server_bin is not None:
        given = (
            settings.llama_server_bin if name == "llama-server" else settings.llama_server_bin.with_name(name)
        )
        if _executable(given):
            return given
    cached = build_dir(settings) / "bin" / name
    return cached if _executable(cached) else None


def find_llama_server(settings: Settings) -> Path | None:
    """The llama-server binary if one exists already (never builds)."""
    return find_llama_binary(settings, "llama-server")


def find_llama_quantize(settings: Settings) -> Path | None:
    """The llama-quantize binary if one exists already (never builds)."""
    return find_llama_binary(settings, "llama-quantize")


def ensure_llama_server(
    settings: Settings, *, progress: Progress | None = None, pip_command: Sequence[str] | None = None
) -> Path:
    """LLAMA_SERVER_BIN when set, else the cached build, else build llama.cpp once and return it."""
    if settings.llama_server_bin is not None:
        if not _executable(settings.llama_server_bin):
            raise ModelServerError(
                f"LLAMA_SERVER_BIN={settings.llama_server_bin} is not an executable file",
                hint="point it at a llama-server binary, or unset it to build one",
            )
        return settings.llama_server_bin
    return _ensure_built(settings, "llama-server", progress, pip_command)


def ensure_llama_quantize(
    settings: Settings, *, progress: Progress | None = None, pip_command: Sequence[str] | None = None
) -> Path:
    """llama-quantize next to LLAMA_SERVER_BIN or in the cached build, else build llama.cpp once."""
    found = find_llama_quantize(settings)
    return found if found is not None else _ensure_built(settings, "llama-quantize", progress, pip_command)


def _ensure_built(
    settings: Settings, name: str, progress: Progress | None, pip_command: Sequence[str] | None
) -> Path:
    binary = build_dir(settings) / "bin" / name
    if _executable(binary):
        return binary
    settings.cache_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(
        settings.cache_dir / f"build-{LLAMA_CPP_PYTHON_VERSION}.lock", "building llama.cpp", progress
    ):
        # Another process may have finished the build while we waited for the lock.
        if not _executable(binary):
            build_llama_cpp(settings, progress=progress, pip_command=pip_command)
    if not _executable(binary):
        raise ModelServerError(f"the build finished but {binary} is missing; see {build_log_path(settings)}")
    return binary


# --- fetching and building -------------------------------------------------------------------------------


def download_sdist(
    settings: Settings, *, progress: Progress | None = None, pip_command: Sequence[str] | None = None
) -> Path:
    """The pinned llama-cpp-python sdist, fetched once with pip and checked against its pinned sha256."""
    target = sdist_path(settings)
    return pip_download(
        f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
        target.name,
        LLAMA_CPP_PYTHON_SDIST_SHA256,
        target,
        binary=False,
        progress=progress,
        pip_command=pip_command,
        hint=_SOURCES_HINT,
    )


def extract_sources(settings: Settings, sdist: Path) -> Path:
    """Extract the sdist once; returns the llama.cpp source directory."""
    sources = source_dir(settings)
    if (sources / "CMakeLists.txt").exists():
        return sources
    root = sdist.parent
    with tempfile.TemporaryDirectory(dir=root, prefix=".extract-") as tmp:
        with tarfile.open(sdist) as archive:
            archive.extractall(tmp, filter="data")
        extracted = Path(tmp) / f"llama_cpp_python-{LLAMA_CPP_PYTHON_VERSION}"
        final = root / extracted.name
        if final.exists():
            shutil.rmtree(final)
        os.replace(extracted, final)
    return sources


def cmake_commands(sources: Path, build: Path, jobs: int) -> list[list[str]]:
    """The configure and build commands, flags exactly as the cluster's image builds them."""
    return [
        ["cmake", "-S", str(sources), "-B", str(build), *CMAKE_FLAGS],
        ["cmake", "--build", str(build), "--target", *BUILD_TARGETS, "-j", str(jobs)],
    ]


def build_llama_cpp(
    settings: Settings, *, progress: Progress | None = None, pip_command: Sequence[str] | None = None
) -> Path:
    """Download, extract and build llama-server + llama-quantize; returns the bin directory."""
    missing = [tool for tool in ("cmake", "c++") if shutil.which(tool) is None]
    if missing:
        raise ModelServerError(
            f"building llama-server needs {' and '.join(missing)}, which is not installed",
            hint="install cmake and a C++ compiler (e.g. apt-get install cmake g++), or set LLAMA_SERVER_BIN",
        )
    sources = extract_sources(settings, download_sdist(settings, progress=progress, pip_command=pip_command))
    build = build_dir(settings)
    log_path = build_log_path(settings)
    jobs = os.cpu_count() or 1
    say(progress, f"building llama.cpp {LLAMA_CPP_PYTHON_VERSION} with {jobs} jobs, once (log: {log_path})")
    with log_path.open("ab") as log_file:
        for command in cmake_commands(sources, build, jobs):
            log_file.write(f"$ {' '.join(command)}\n".encode())
            log_file.flush()
            started = time.monotonic()
            result = subprocess.run(command, stdout=log_file, stderr=subprocess.STDOUT, check=False)
            if result.returncode != 0:
                raise ModelServerError(
                    f"building llama.cpp failed ({command[1]} exit {result.returncode}); see {log_path}",
                    hint=_log_tail(log_path, 3),
                )
            say(progress, f"{' '.join(command[:2])} done in {time.monotonic() - started:.0f}s")
    return build / "bin"


def _log_tail(path: Path, lines: int) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --- running it -------------------------------------------------------------------------------------------

DEFAULT_SLOT_CONTEXT = 6144


def _port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class LocalModelServer:
    """One llama-server process serving one GGUF, started by us and tethered to this process."""

    def __init__(
        self,
        binary: Path,
        model_path: Path,
        *,
        port: int,
        host: str = "127.0.0.1",
        parallel: int = 2,
        context_length: int = DEFAULT_SLOT_CONTEXT,
        alias: str | None = None,
        log_path: Path | None = None,
        threads: int | None = None,
    ) -> None:
        self.binary = binary
        self.model_path = model_path
        self.host = host
        self.port = port
        self.parallel = parallel
        self.context_length = context_length
        self.alias = alias
        self.log_path = log_path or model_path.with_name(f"llama-server-{port}.log")
        self.threads = threads
        self.owned = True
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The server's base URL (without /v1)."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while we run it."""
        return self._process.pid if self._process is not None else None

    def command(self) -> list[str]:
        """The llama-server command line."""
        # --ctx-size is the total over all slots; each slot (one request) gets context_length.
        command = [
            str(self.binary),
            "--model", str(self.model_path),
            "--host", self.host,
            "--port", str(self.port),
            "--parallel", str(self.parallel),
            "--ctx-size", str(self.context_length * self.parallel),
            "--metrics",
        ]  # fmt: skip
        if self.alias:
            command += ["--alias", self.alias]
        if self.threads:
            command += ["--threads", str(self.threads)]
        return command

    def running_elsewhere(self) -> bool:
        """Whether a healthy llama-server of this very model already listens on the port."""
        return _port_open(self.host, self.port) and self._healthy() and self._serves_this_model()

    def start(self, *, timeout_s: float = 120.0, reuse_running: bool = False) -> LocalModelServer:
        """Start the server and wait until /health says the model is loaded."""
        if self._process is not None:
            return self
        if _port_open(self.host, self.port):
            if reuse_running and self.running_elsewhere():
                self.owned = False
                return self
            raise ModelServerError(
                f"port {self.port} on {self.host} is already in use"
                + (" by a server of another model" if reuse_running and self._healthy() else ""),
                hint="stop what listens there or set LOCAL_MODEL_PORT to a free port",
            )
        if not self.model_path.exists():
            raise ModelServerError(f"model file {self.model_path} does not exist")
        if not _executable(self.binary):
            raise ModelServerError(
                f"{self.binary} is not an executable file", hint="run `logtriage build-server`"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self._process = popen_tethered(
                self.command(), stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        atexit.register(self.stop)
        self._wait_healthy(timeout_s)
        return self

    def _healthy(self, http: httpx.Client | None = None) -> bool:
        with contextlib.ExitStack() as stack:
            if http is None:
                http = stack.enter_context(httpx.Client())
            client = LLMClient(self.base_url, self.alias or "local", client=http, timeout=_HEALTH_TIMEOUT)
            return client.health().ok

    def _serves_this_model(self) -> bool:
        """Whether the server on our port loaded our GGUF (a healthy server of another model is no reuse)."""
        with httpx.Client() as http:
            client = LLMClient(self.base_url, self.alias or "local", client=http, timeout=_HEALTH_TIMEOUT)
            try:
                props = client.props() or {}
            except LLMError:
                return False
        return Path(str(props.get("model_path", ""))).name == self.model_path.name

    def _wait_healthy(self, timeout_s: float) -> None:
        with httpx.Client() as http:
            self._poll_healthy(http, timeout_s)

    def _poll_healthy(self, http: httpx.Client, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        assert self._process is not None
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                self._process = None
                atexit.unregister(self.stop)
                raise ModelServerError(
                    f"llama-server for {self.model_path.name} exited with code {code} while starting; "
                    f"see {self.log_path}",
                    hint=_log_tail(self.log_path, 2),
                )
            if self._healthy(http):
                return
            time.sleep(0.1)
        self.stop()
        raise ModelServerError(
            f"llama-server for {self.model_path.name} did not become healthy within {timeout_s:.0f}s; "
            f"see {self.log_path}"
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a grace period); a no-op when not running."""
        process, self._process = self._process, None
        if process is None:
            return
        atexit.unregister(self.stop)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(_STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def ensure_local_models(
    settings: Settings,
    *,
    quantizations: Sequence[str] = smollm2.LADDER,
    progress: Progress | None = None,
    pip_command: Sequence[str] | None = None,
) -> dict[str, Path]:
    """The SmolLM2 release and its derived rungs on disk (building llama-quantize and fetching once)."""
    quantize = ensure_llama_quantize(settings, progress=progress, pip_command=pip_command)
    return smollm2.ensure_ladder(
        settings, quantize, quantizations=quantizations, progress=progress, pip_command=pip_command
    )


def serve_local_models(
    settings: Settings,
    *,
    only: Collection[str] | None = None,
    progress: Progress | None = None,
    timeout_s: float = 120.0,
) -> list[LocalModelServer]:
    """Start one llama-server per rung of the local SmolLM2 ladder (or the rungs named in ``only``).

    Whatever is missing is built or fetched first. A healthy server already on a port (another
    dashboard, ``logtriage serve-models``) is reused, not restarted; such servers have ``owned`` False
    and ``stop()`` leaves them alone. The servers started here die with this process.
    """
    models = [m for m in default_local_models(settings) if only is None or m.name in only]
    if not models:
        return []
    binary = ensure_llama_server(settings, progress=progress)
    paths = ensure_local_models(settings, quantizations=[m.quantization for m in models], progress=progress)
    servers: list[LocalModelServer] = []
    try:
        for model in models:
            port = int(model.base_url.rsplit(":", 1)[1])
            server = LocalModelServer(
                binary,
                paths[model.quantization],
                host=settings.local_model_host,
                port=port,
                parallel=settings.local_model_parallel,
                context_length=model.context_length,
                alias=model.name,
                log_path=settings.data_dir / "logs" / f"llama-server-{model.name}.log",
            )
            reused = server.running_elsewhere()
            say(
                progress, f"{'using the running' if reused else 'starting'} {model.name} on {server.base_url}"
            )
            servers.append(server.start(timeout_s=timeout_s, reuse_running=True))
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return servers


def local_model_dirs(settings: Settings) -> list[Path]:
    """Where local GGUF files live: the SmolLM2 ladder, then the generated tiny models."""
    return [smollm2.models_dir(settings), settings.tiny_models_dir]
