"""The models file: which OpenAI-compatible endpoints serve which model and quantization.

```yaml
models:
  - name: llama-3.2-3b-q4_k_m                  # unique; what runs and results are keyed by
    base_url: http://llama-q4km.logtriage.svc:8080   # without /v1
    quantization: Q4_K_M
    context_length: 8192                       # per request (one server slot)
    gguf_file: Llama-3.2-3B-Instruct-Q4_K_M.gguf     # optional, for the record
    family: llama-3.2-3b                       # optional, groups quantizations of one model
    api_key_env: null                          # optional, env var holding a bearer key
    served_model_name: null                    # optional, the id the server expects (vLLM); default name
    response_format_style: json_schema         # or json_object for llama-cpp-python's server
```

Without a models file, the two local tiny models are used, one llama-server per quantization on
``LOCAL_MODEL_PORT`` and the port after it, as the cluster runs one server per quantization.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.config import Settings, get_settings
from app.errors import ConfigError, LLMError, UnknownModelError
from app.llm.client import LLMClient, ResponseFormatStyle
from app.llm.tiny_model import CONTEXT_LENGTH, tiny_model_filename

TINY_FAMILY = "logtriage-tiny"
# (name, quantization, port offset from LOCAL_MODEL_PORT)
TINY_MODELS = (("tiny-q4_k_m", "Q4_K_M", 0), ("tiny-q8_0", "Q8_0", 1))


class ModelConfig(BaseModel):
    """One model endpoint from the models file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    base_url: str
    quantization: str = Field(min_length=1, max_length=32)
    context_length: int = Field(gt=0)
    gguf_file: str | None = None
    family: str | None = None
    api_key_env: str | None = None
    served_model_name: str | None = None
    response_format_style: ResponseFormatStyle = "json_schema"

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL like http://host:8080")
        if value.endswith("/v1"):
            raise ValueError("leave out /v1; the client adds the API paths")
        return value

    @field_validator("quantization")
    @classmethod
    def _upper_quantization(cls, value: str) -> str:
        return value.strip().upper()

    @property
    def model_family(self) -> str:
        """The family, or the name when none is given (a family of one)."""
        return self.family or self.name

    def api_key(self) -> str | None:
        """The bearer key from the environment variable named by ``api_key_env``, if any."""
        # The models file names the variable rather than holding the secret, so the key comes from the
        # environment (a Kubernetes secret) at call time.
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None


class ModelsFile(BaseModel):
    """The top level of the models file."""

    model_config = ConfigDict(extra="forbid")

    models: list[ModelConfig] = Field(min_length=1)


class ModelHealth(BaseModel):
    """A model endpoint's health and what its server says about itself."""

    name: str
    quantization: str
    base_url: str
    context_length: int
    ok: bool
    status: str
    detail: str
    latency_ms: float
    n_ctx: int | None = None
    total_slots: int | None = None
    build_info: str | None = None
    model_path: str | None = None


def parse_models(data: Any, source: str) -> list[ModelConfig]:
    """Validate loaded YAML as a models file; ConfigError naming ``source`` and the bad field."""
    try:
        models = ModelsFile.model_validate(data).models
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ConfigError(
            f"models file {source}: {where}: {first['msg']}",
            hint="see the models file format in app/llm/models.py",
        ) from None
    seen: set[str] = set()
    for model in models:
        if model.name in seen:
            raise ConfigError(f"models file {source}: model name {model.name!r} appears more than once")
        seen.add(model.name)
    return models


def load_models(path: Path) -> list[ModelConfig]:
    """Read and validate a models YAML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read models file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"models file {path} is not valid YAML{where}: {getattr(exc, 'problem', exc)}"
        ) from None
    return parse_models(data, str(path))


def default_local_models(settings: Settings) -> list[ModelConfig]:
    """The embedded default: the tiny model in Q4_K_M and Q8_0, one local llama-server each."""
    return [
        ModelConfig(
            name=name,
            base_url=f"http://{settings.local_model_host}:{settings.local_model_port + offset}",
            quantization=quantization,
            context_length=CONTEXT_LENGTH,
            gguf_file=tiny_model_filename(quantization),
            family=TINY_FAMILY,
        )
        for name, quantization, offset in TINY_MODELS
    ]


def get_models(settings: Settings) -> list[ModelConfig]:
    """The models in use: the models file when MODELS_FILE is set, else the local tiny models."""
    if settings.models_file is not None:
        return load_models(settings.models_file)
    return default_local_models(settings)


def find_model(models: list[ModelConfig], name: str) -> ModelConfig:
    """The model called ``name``; UnknownModelError listing the known names otherwise."""
    for model in models:
        if model.name == name:
            return model
    known = ", ".join(m.name for m in models) or "(none)"
    raise UnknownModelError(f"unknown model {name!r}; known models: {known}")


def check_health(model: ModelConfig, client: httpx.Client, settings: Settings | None = None) -> ModelHealth:
    """Health of a model's endpoint plus its server's /props summary (when the server has /props)."""
    settings = settings or get_settings()
    llm = LLMClient.for_model(model, client=client, settings=settings)
    health = llm.health()
    props: dict[str, Any] | None = None
    if health.ok:
        try:
            props = llm.props()
        except LLMError:
            props = None  # health is what this reports; /props is a bonus
    summary = props_summary(props)
    return ModelHealth(
        name=model.name,
        quantization=model.quantization,
        base_url=model.base_url,
        context_length=model.context_length,
        ok=health.ok,
        status=health.status,
        detail=health.detail,
        latency_ms=health.latency_ms,
        **summary,
    )


def props_summary(props: dict[str, Any] | None) -> dict[str, Any]:
    """Per-slot context size, slot count, build and model path out of llama-server's /props."""
    if not props:
        return {}
    settings = props.get("default_generation_settings") or {}
    n_ctx = settings.get("n_ctx", props.get("n_ctx"))
    return {
        "n_ctx": n_ctx if isinstance(n_ctx, int) else None,
        "total_slots": props.get("total_slots") if isinstance(props.get("total_slots"), int) else None,
        "build_info": str(props["build_info"]) if props.get("build_info") else None,
        "model_path": str(props["model_path"]) if props.get("model_path") else None,
    }
