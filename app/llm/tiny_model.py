"""A tiny random-weight Llama GGUF (F16, Q8_0, Q4_K_M) for tests that need a fast, content-free answer.

It has random weights: its answers are noise, never a diagnosis. The embedded default serves the real
SmolLM2 ladder (``app/llm/smollm2.py``); this model stays for tests that only check plumbing. Two things are designed rather than random, because tests and the demo rely on them:

* a real SentencePiece ("llama") vocabulary with byte fallback, so any text tokenizes, and a ChatML chat
  template, so ``/v1/chat/completions`` works as with a real instruct model;
* a fixed per-token preference (through one constant embedding dimension) for the tokens that close JSON
  (``"``, ``,``, ``]``, ``}``, ``0``) and for end-of-turn, against whitespace. Under the RCA schema's
  grammar this keeps answers short (fast tests) and puts ``confidence`` at 0: llama.cpp's grammar bounds
  integers but not numbers, so a free random choice would often leave the schema's 0..1 range.
"""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import numpy as np

from app.llm.quantize import quantize

# Bump when the generated file changes, so caches keyed by file name are not reused stale.
TINY_MODEL_VERSION = 2
QUANTIZATIONS = ("Q8_0", "Q4_K_M")

# Multiples of 256: K-quants work on 256-value super-blocks along a row; llama-quantize falls back to
# other types for rows that do not divide (and Q4_K_M would then not be what it claims to be).
N_EMBD = 256
N_FF = 512
N_LAYER = 4
N_HEAD = 4
N_HEAD_KV = 2
CONTEXT_LENGTH = 8192

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_SPECIAL = ("<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>")
_UNK, _BOS, _EOS, _IM_START, _IM_END = range(len(_SPECIAL))

# Log and RCA words that get whole-word tokens, so prompts tokenize into fewer, more realistic pieces.
_WORD_TEXT = """
root_cause confidence evidence summary oom_killed crash_config_error image_pull_error
dependency_unavailable dns_resolution_failure probe_failure volume_mount_failure
tls_certificate_error permission_denied node_resource_pressure scheduling_failure
application_exception healthy error warn warning info debug fatal failed failure connection refused
timeout timed out pod pods container restart restarting back off memory killed OOMKilled exit code
image pull ErrImagePull ImagePullBackOff registry dns lookup resolve no such host certificate
expired x509 tls handshake permission denied forbidden unauthorized node pressure evicted
scheduling Pending insufficient cpu exception panic traceback stack healthy ready liveness
readiness probe volume mount secret configmap service database postgres redis kafka http https
request response status started starting listening port the a an of to in is and for on with at
from by not was be this that kubelet kube namespace deployment replica job system user assistant
"""
_JSON_PIECES = ('{"', '"}', '":', '",', '": "', '", "', '": [', "],", "[]", "{}", '":0', "0.", "null")

# Per-token preference in logits: strong enough to dominate the random part (std ~1 logit).
_PREFER = 6.0
_AVOID = -6.0
_PREFERRED_PIECES = ('"', ",", "]", "}", "0")
_AVOIDED_PIECES = ("▁", "▁▁", "<0x20>", "<0x09>", "<0x0A>", "<0x0D>")


def build_vocab() -> tuple[list[str], list[float], list[int]]:
    """The tiny model's SentencePiece vocabulary: tokens, merge scores and token types."""
    tokens: list[str] = list(_SPECIAL)
    types: list[int] = [
        gguf.TokenType.UNKNOWN,
        gguf.TokenType.CONTROL,
        gguf.TokenType.CONTROL,
        gguf.TokenType.CONTROL,
        gguf.TokenType.CONTROL,
    ]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256

    # Every prefix of every piece is a token too: SentencePiece merges adjacent pairs, so a word is only
    # reachable when each intermediate piece exists.
    pieces: dict[str, None] = {"▁": None, "▁▁": None}
    for code in range(33, 127):
        pieces[chr(code)] = None
    for word in (*_WORD_TEXT.split(), *_JSON_PIECES):
        for variant in (word, "▁" + word):
            for end in range(1, len(variant) + 1):
                pieces[variant[:end]] = None
    normal = [p for p in pieces if p not in tokens]
    tokens += normal
    types += [gguf.TokenType.NORMAL] * len(normal)

    # Longer pieces merge first, which is what SentencePiece scores (log-probabilities) amount to.
    scores = [0.0] * len(_SPECIAL) + [0.0] * 256 + [float(len(p)) - i * 1e-4 for i, p in enumerate(normal)]
    return tokens, scores, [int(t) for t in types]


def _token_bias(tokens: list[str]) -> np.ndarray:
    """Logit offsets per token: favour JSON closers and end-of-turn, avoid whitespace."""
    bias = np.zeros(len(tokens), dtype=np.float32)
    index = {tok: i for i, tok in enumerate(tokens)}
    for piece in _PREFERRED_PIECES:
        bias[index[piece]] = _PREFER
    bias[_IM_END] = _PREFER
    for piece in _AVOIDED_PIECES:
        bias[index[piece]] = _AVOID
    # Never start a new turn or emit unknown/BOS in an answer.
    bias[[_UNK, _BOS, _IM_START]] = -2 * _PREFER
    return bias


def _tensors(n_vocab: int, bias: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    head_dim = N_EMBD // N_HEAD

    def weight(rows: int, cols: int, std: float) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * std).astype(np.float16)

    # Dimension 0 of every embedding is a large constant; after the final RMSNorm it is ~sqrt(2)*8, so
    # column 0 of the output matrix acts as a per-token bias (llama has no output bias tensor).
    embd = rng.standard_normal((n_vocab, N_EMBD)).astype(np.float32)
    embd[:, 0] = 16.0
    normalised_dim0 = 16.0 / np.sqrt((16.0**2 + (N_EMBD - 1)) / N_EMBD)
    output = rng.standard_normal((n_vocab, N_EMBD)).astype(np.float32) * 0.06
    output[:, 0] = bias / normalised_dim0

    tensors: dict[str, np.ndarray] = {
        "token_embd.weight": embd.astype(np.float16),
        "output_norm.weight": np.ones(N_EMBD, dtype=np.float32),
        "output.weight": output.astype(np.float16),
    }
    for layer in range(N_LAYER):
        blk = f"blk.{layer}"
        tensors |= {
            f"{blk}.attn_norm.weight": np.ones(N_EMBD, dtype=np.float32),
            f"{blk}.attn_q.weight": weight(N_EMBD, N_EMBD, 0.05),
            f"{blk}.attn_k.weight": weight(N_HEAD_KV * head_dim, N_EMBD, 0.05),
            f"{blk}.attn_v.weight": weight(N_HEAD_KV * head_dim, N_EMBD, 0.05),
            f"{blk}.attn_output.weight": weight(N_EMBD, N_EMBD, 0.05),
            f"{blk}.ffn_norm.weight": np.ones(N_EMBD, dtype=np.float32),
            f"{blk}.ffn_gate.weight": weight(N_FF, N_EMBD, 0.05),
            f"{blk}.ffn_up.weight": weight(N_FF, N_EMBD, 0.05),
            f"{blk}.ffn_down.weight": weight(N_EMBD, N_FF, 0.05),
        }
    return tensors


def write_tiny_gguf(path: Path, *, seed: int = 0) -> Path:
    """Write the F16 tiny Llama GGUF to ``path`` (deterministic for a seed)."""
    tokens, scores, types = build_vocab()
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(f"logtriage-tiny-llama-v{TINY_MODEL_VERSION}")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_vocab_size(len(tokens))
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(_UNK)
    writer.add_bos_token_id(_BOS)
    writer.add_eos_token_id(_IM_END)
    writer.add_eot_token_id(_IM_END)
    writer.add_add_bos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(CHATML_TEMPLATE)
    for name, tensor in _tensors(len(tokens), _token_bias(tokens), seed).items():
        writer.add_tensor(name, tensor)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tiny_model_filename(quantization: str, seed: int = 0) -> str:
    """File name of the tiny model in one quantization (``F16``, ``Q8_0``, ``Q4_K_M``)."""
    return f"logtriage-tiny-v{TINY_MODEL_VERSION}-s{seed}-{quantization}.gguf"


def make_tiny_model(out_dir: Path, quantize_bin: Path | None, *, seed: int = 0) -> dict[str, Path]:
    """Generate (or reuse) the tiny model: F16 always, Q8_0 and Q4_K_M when llama-quantize is given."""
    out_dir.mkdir(parents=True, exist_ok=True)
    f16 = out_dir / tiny_model_filename("F16", seed)
    if not f16.exists():
        partial = f16.with_name(f16.name + ".partial")
        write_tiny_gguf(partial, seed=seed)
        os.replace(partial, f16)
    paths = {"F16": f16}
    if quantize_bin is None:
        return paths
    for quantization in QUANTIZATIONS:
        target = out_dir / tiny_model_filename(quantization, seed)
        if not target.exists():
            quantize(quantize_bin, f16, target, quantization, out_dir / "llama-quantize.log")
        paths[quantization] = target
    return paths
