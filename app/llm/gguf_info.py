"""What a GGUF file really holds: its tensor types by count and bytes, read with the ``gguf`` package.

A quantization's name is a request, not a fact. llama-quantize falls back to other types for tensors
whose rows do not divide into its blocks (K-quants need multiples of 256; SmolLM2's rows are 576 wide),
and it keeps some tensors (norms, often the embedding) at other types on purpose. The file's own tensor
table is the truth, and this is what the model list shows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import gguf
from pydantic import BaseModel, Field

from app.errors import ModelServerError


class GGUFSummary(BaseModel):
    """A GGUF file's size, architecture and the types its weight tensors are stored in."""

    path: str
    size_bytes: int
    architecture: str | None = None
    name: str | None = None
    context_length: int | None = None
    parameters: int = Field(description="Number of weights over all tensors.")
    weight_types: dict[str, int] = Field(
        description="Matrix (2-D or more) tensors per storage type, most bytes first."
    )
    weight_bytes: dict[str, int] = Field(description="Bytes per storage type over the matrix tensors.")
    other_types: dict[str, int] = Field(description="1-D tensors (norms, biases) per storage type.")

    def describe(self) -> str:
        """One line, e.g. 'Q4_1 x210 (68.2 MB), Q8_0 x1 (30.1 MB); norms F32'."""
        parts = [
            f"{kind} x{count} ({self.weight_bytes.get(kind, 0) / 1e6:.1f} MB)"
            for kind, count in self.weight_types.items()
        ]
        text = ", ".join(parts) or "no matrix tensors"
        if self.other_types:
            text += "; vectors " + ", ".join(sorted(self.other_types))
        return text

    @property
    def dominant_type(self) -> str | None:
        """The storage type holding the most weight bytes."""
        return next(iter(self.weight_types), None)


def _field(reader: gguf.GGUFReader, key: str) -> object:
    field = reader.fields.get(key)
    if field is None:
        return None
    try:
        return field.contents()
    except (ValueError, IndexError, TypeError):
        return None


def inspect_gguf(path: Path) -> GGUFSummary:
    """Read a GGUF's header and tensor table (memory-mapped; the weights are not loaded)."""
    try:
        reader = gguf.GGUFReader(path)
    except (OSError, ValueError) as exc:
        raise ModelServerError(f"cannot read GGUF file {path}: {exc}") from None
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    vectors: Counter[str] = Counter()
    parameters = 0
    for tensor in reader.tensors:
        kind = tensor.tensor_type.name
        parameters += int(tensor.n_elements)
        if len(tensor.shape) >= 2 and int(min(tensor.shape)) > 1:
            counts[kind] += 1
            sizes[kind] += int(tensor.n_bytes)
        else:
            vectors[kind] += 1
    order = sorted(counts, key=lambda kind: (-sizes[kind], kind))
    architecture = _field(reader, "general.architecture")
    context = _field(reader, f"{architecture}.context_length") if isinstance(architecture, str) else None
    name = _field(reader, "general.name")
    return GGUFSummary(
        path=str(path),
        size_bytes=path.stat().st_size,
        architecture=architecture if isinstance(architecture, str) else None,
        name=name if isinstance(name, str) else None,
        context_length=context if isinstance(context, int) else None,
        parameters=parameters,
        weight_types={kind: counts[kind] for kind in order},
        weight_bytes={kind: sizes[kind] for kind in order},
        other_types=dict(sorted(vectors.items())),
    )


def find_local_gguf(
    gguf_file: str | None, search_dirs: Sequence[Path], server_model_path: str | None = None
) -> Path | None:
    """The GGUF file of a model on this machine: ``gguf_file`` as a path or in ``search_dirs``, else the
    path the (local) server reports; None when none exists here."""
    candidates: list[Path] = []
    if gguf_file:
        given = Path(gguf_file)
        candidates += [given] if given.is_absolute() else [folder / given for folder in search_dirs]
    if server_model_path:
        candidates.append(Path(server_model_path))
    return next((path for path in candidates if path.is_file()), None)


def summarize_local_gguf(
    gguf_file: str | None, search_dirs: Sequence[Path], server_model_path: str | None = None
) -> GGUFSummary | None:
    """The summary of a model's GGUF when the file is on this machine and readable, else None."""
    path = find_local_gguf(gguf_file, search_dirs, server_model_path)
    if path is None:
        return None
    try:
        return inspect_gguf(path)
    except ModelServerError:
        return None
