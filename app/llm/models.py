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
    derived_from: null                         # optional: the file these weights were requantized from
    note: null                                 # optional: one line shown with the model
```

Without a models file, the local SmolLM2-135M-Instruct ladder is used (``app/llm/smollm2.py``): one
llama-server per quantization on ``LOCAL_MODEL_PORT`` and the ports after it, as the cluster runs one
server per quantization. This module only describes models; ``app/llm/health.py`` talks to them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.config import Settings
from app.errors import ConfigError, UnknownModelError
from app.llm import smollm2

ResponseFormatStyle = Literal["json_schema", "json_object"]
"""How a JSON schema is sent: OpenAI's ``json_schema`` wrapper (llama-server, vLLM, OpenAI) or the
``{"type": "json_object", "schema": ...}`` form, the only one llama-cpp-python's server accepts (its
request model rejects ``json_schema``); llama-server accepts both."""


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
    derived_from: str | None = Field(
        default=None, max_length=200, description="The file these weights were requantized from, if any."
    )
    note: str | None = Field(default=None, max_length=300, description="One line shown with the model.")

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
    """The embedded default: the SmolLM2-135M-Instruct ladder, one local llama-server per rung.

    The Q4_1 release comes first (the default model) on LOCAL_MODEL_PORT; the rungs derived from it
    follow on the next ports.
    """
    release = smollm2.gguf_file_name(smollm2.RELEASE_QUANTIZATION)
    return [
        ModelConfig(
            name=smollm2.model_name(quantization),
            base_url=f"http://{settings.local_model_host}:{settings.local_model_port + offset}",
            quantization=quantization,
            context_length=min(settings.local_model_context, smollm2.CONTEXT_LENGTH),
            gguf_file=smollm2.gguf_file_name(quantization),
            family=smollm2.FAMILY,
            derived_from=None if quantization == smollm2.RELEASE_QUANTIZATION else release,
            note=smollm2.RELEASE_NOTE
            if quantization == smollm2.RELEASE_QUANTIZATION
            else smollm2.DERIVED_NOTE,
        )
        for offset, quantization in enumerate(smollm2.LADDER)
    ]


def get_models(settings: Settings) -> list[ModelConfig]:
    """The models in use: the models file when MODELS_FILE is set, else the local SmolLM2 ladder."""
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


def default_model_name(models: list[ModelConfig], settings: Settings) -> str | None:
    """The model to pick when none is named: DEFAULT_MODEL when it is listed, else the first model."""
    names = [model.name for model in models]
    if settings.default_model:
        if settings.default_model not in names:
            raise UnknownModelError(
                f"DEFAULT_MODEL={settings.default_model!r} is not a known model; known models: "
                f"{', '.join(names) or '(none)'}"
            )
        return settings.default_model
    return names[0] if names else None
