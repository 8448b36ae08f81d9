"""All settings, read once from the environment (and an optional ``.env`` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "logtriage"


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "logtriage"


class Settings(BaseSettings):
    """Every setting LogTriage reads; the README's configuration table lists the same names."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    # Log source
    loki_url: str | None = Field(default=None, description="Loki base URL; unset = demo log source.")
    loki_tenant: str | None = Field(default=None, description="Sent as X-Scope-OrgID (multi-tenant Loki).")
    loki_username: str | None = Field(default=None, description="Basic-auth user for Loki.")
    loki_password: SecretStr | None = Field(default=None, description="Basic-auth password for Loki.")
    loki_bearer_token: SecretStr | None = Field(default=None, description="Bearer token for Loki.")
    loki_timeout_seconds: float = Field(default=30.0, gt=0, description="Read timeout per Loki request.")
    loki_connect_timeout_seconds: float = Field(default=5.0, gt=0, description="Connect timeout for Loki.")
    loki_deadline_seconds: float = Field(
        default=120.0, gt=0, description="Overall time limit of one Loki query: every page, retry and wait."
    )
    loki_max_retries: int = Field(default=4, ge=0, description="Retries on connect errors, 429 and 5xx.")
    loki_page_size: int = Field(default=5000, gt=0, description="Lines per Loki request when paginating.")
    log_limit: int = Field(default=5000, gt=0, description="Default maximum lines fetched for a triage.")

    # Models
    models_file: Path | None = Field(
        default=None, description="YAML models file; unset = the local SmolLM2 ladder (embedded default)."
    )
    default_model: str | None = Field(
        default=None, description="Model picked when none is named; unset = the first model listed."
    )
    llama_server_bin: Path | None = Field(
        default=None, description="An existing llama-server binary; unset = build it once from source."
    )
    local_model_host: str = Field(default="127.0.0.1", description="Address the local llama-servers bind.")
    local_model_port: int = Field(
        default=8091,
        gt=0,
        lt=65536,
        description="Port of the first local llama-server; the next rungs follow.",
    )
    # Two slots of 6,144 tokens per server: on 2 cores more slots only split the same CPU. 6,144 leaves
    # room for the few-shot prompt (~1,200 tokens), 1,024 answer tokens and the 2,000-token log cap.
    local_model_parallel: int = Field(default=2, ge=1, le=64, description="Parallel slots per local server.")
    local_model_context: int = Field(
        default=6144, ge=512, le=8192, description="Context tokens per slot of a local server."
    )

    # Triage budget and latency
    log_token_cap: int = Field(default=2000, ge=1, description="Most log tokens a triage prompt carries.")
    log_token_floor: int = Field(
        default=300, ge=0, description="Fewest log tokens a prompt gets when the context has room for them."
    )
    latency_target_seconds: float = Field(
        default=5.0,
        ge=0,
        description="Aim for the first answer token within this many seconds; 0 = no latency target.",
    )
    llm_connect_timeout_seconds: float = Field(default=5.0, gt=0, description="Connect timeout to models.")
    llm_timeout_seconds: float = Field(default=300.0, gt=0, description="Read timeout while streaming.")
    llm_total_timeout_seconds: float = Field(
        default=900.0, gt=0, description="Longest one model request may take, from sending to the last chunk."
    )
    llm_max_response_bytes: int = Field(
        default=16 * 1024 * 1024, gt=0, description="Largest streamed answer accepted from a model server."
    )

    # Storage and files
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset = SQLite file in the data directory."
    )
    data_dir: Path = Field(default_factory=_default_data_dir, description="SQLite file, tiny models, logs.")
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="llama.cpp sources and build, the SmolLM2 wheel and ladder (outside the repo).",
    )
    prompts_dir: Path = Field(default=PROJECT_ROOT / "prompts", description="Prompt templates.")
    golden_dir: Path = Field(default=PROJECT_ROOT / "golden", description="Golden set JSONL files.")

    # Evals
    eval_claim_lease_seconds: float = Field(
        default=60.0,
        ge=0.5,
        description="How long an eval worker's claim on an item lasts without its heartbeat.",
    )
    eval_transient_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Retries of an eval item after a transient model-server fault (HTTP 429/502/503/504, "
        "a refused or reset connection).",
    )
    eval_retry_backoff_seconds: float = Field(
        default=1.0, ge=0, le=60, description="Wait before an eval item's first retry; doubles each retry."
    )

    # Telemetry
    otel_service_name: str = Field(default="logtriage", description="service.name of traces.")
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP base URL (e.g. http://tempo:4318); unset = no export."
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        default=None, description="Full OTLP/HTTP traces URL; overrides the base endpoint."
    )
    otel_traces_exporter: str = Field(default="otlp", description="'otlp' or 'none'.")
    otel_sdk_disabled: bool = Field(default=False, description="Disable tracing altogether.")
    pushgateway_url: str | None = Field(default=None, description="Prometheus Pushgateway for eval results.")
    metrics_port: int = Field(default=9464, ge=0, description="Port of /metrics; 0 disables the server.")
    grafana_url: str | None = Field(default=None, description="Grafana base URL for Explore links.")
    build_revision: str | None = Field(
        default=None, description="Git revision of this build (the image sets it); unset = ask git."
    )
    grafana_loki_datasource_uid: str = Field(default="loki", description="Loki datasource uid in Grafana.")
    grafana_tempo_datasource_uid: str = Field(default="tempo", description="Tempo datasource uid in Grafana.")

    # Dashboard
    auth_user_header: str = Field(
        default="X-Forwarded-User", description="Header with the user name set by the gateway's auth."
    )

    @field_validator("loki_url", "pushgateway_url", "grafana_url", "otel_exporter_otlp_endpoint")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return value.strip().rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: DATABASE_URL, else a SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'logtriage.db'}"

    @property
    def tiny_models_dir(self) -> Path:
        """Where the generated tiny GGUF models live."""
        return self.data_dir / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; a bad value is a ConfigError naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = "_".join(str(part) for part in error["loc"]).upper() or "a setting"
        raise ConfigError(
            f"{name} is not valid: {error['msg']}", hint="fix it in the environment or in .env"
        ) from None
