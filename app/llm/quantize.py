"""Running llama.cpp's ``llama-quantize`` on a GGUF file."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from app.errors import ModelServerError


def quantize(
    quantize_bin: Path,
    source: Path,
    target: Path,
    quantization: str,
    log_path: Path,
    *,
    allow_requantize: bool = False,
) -> Path:
    """Quantize ``source`` into ``target`` with llama-quantize; ModelServerError naming the log on failure.

    ``allow_requantize`` lets llama-quantize start from an already quantized file (it refuses by
    default, because the result can only be as good as the source).
    """
    partial = target.with_name(target.name + ".partial")
    flags = ["--allow-requantize"] if allow_requantize else []
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        result = subprocess.run(
            [str(quantize_bin), *flags, str(source), str(partial), quantization],
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        raise ModelServerError(
            f"llama-quantize failed to make {quantization} (exit {result.returncode}); see {log_path}"
        )
    os.replace(partial, target)
    return target
