"""What an eval run runs: the request a user makes, the golden slice it covers, and the resolved run spec.

A request names things (a prompt ref, a model, a slice); the spec is what they resolved to when the run
started (prompt hash, model file, params, the exact item ids, repeats). Every process that works on a
run, a resume or one shard of a Kubernetes Job, must agree on the spec; its hash says whether they do.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from app.errors import InputError
from app.evals import baseline
from app.golden.schema import GoldenExample, Source
from app.taxonomy import ROOT_CAUSES
from app.triage_models import DEFAULT_PROMPT

BASELINE_MODEL_NAME = baseline.BASELINE_MODEL_NAME
BASELINE_QUANTIZATION = "none"
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64
MAX_REPEATS = 20
DEFAULT_SLICE_SEED = 0
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""A run id given by the user: what a Kubernetes Job name or a CI job id looks like, up to 64 characters."""

RunStatus = Literal["running", "completed", "failed", "cancelled"]


# --- the slice ---------------------------------------------------------------------------------------------


def stratified_sample(examples: Sequence[GoldenExample], per_class: int, seed: int) -> list[GoldenExample]:
    """At most ``per_class`` examples of each class, chosen by a seeded draw that never changes.

    The draw orders each class by sha256(seed, example id): the same seed picks the same examples on
    any machine and Python version, and adding an example to the set does not reshuffle the others.
    """
    by_class: dict[str, list[GoldenExample]] = {}
    for example in examples:
        by_class.setdefault(example.label.root_cause, []).append(example)
    chosen: list[GoldenExample] = []
    for members in by_class.values():
        ranked = sorted(members, key=lambda e: hashlib.sha256(f"{seed}:{e.id}".encode()).hexdigest())
        chosen.extend(ranked[:per_class])
    return sorted(chosen, key=lambda example: example.id)


class GoldenSlice(BaseModel):
    """Which golden examples a run covers: by ids, class and source, then N per class, then the first N."""

    model_config = ConfigDict(frozen=True)

    classes: list[str] = Field(default_factory=list)
    source: Source | None = None
    ids: list[str] = Field(default_factory=list)
    per_class: int | None = Field(default=None, ge=1, description="At most N examples per class (seeded).")
    seed: int | None = Field(default=None, description="Seed of the per-class draw (default 0).")
    limit: int | None = Field(default=None, ge=1)

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[str]) -> list[str]:
        unknown = [label for label in value if label not in ROOT_CAUSES]
        if unknown:
            raise ValueError(f"unknown class(es) {', '.join(unknown)}; known: {', '.join(ROOT_CAUSES)}")
        return value

    @field_validator("seed")
    @classmethod
    def _seed_needs_per_class(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("per_class") is None:
            raise ValueError("a seed only applies to a per-class draw (per_class=N)")
        return value

    def apply(self, examples: Sequence[GoldenExample]) -> list[GoldenExample]:
        """The examples in this slice, in id order; InputError naming ids that do not exist."""
        chosen = sorted(examples, key=lambda example: example.id)
        if self.ids:
            known = {example.id for example in chosen}
            missing = [example_id for example_id in self.ids if example_id not in known]
            if missing:
                raise InputError(f"no golden example with id {', '.join(missing[:5])}")
            wanted = set(self.ids)
            chosen = [example for example in chosen if example.id in wanted]
        if self.classes:
            chosen = [example for example in chosen if example.label.root_cause in self.classes]
        if self.source:
            chosen = [example for example in chosen if example.source == self.source]
        if self.per_class is not None:
            seed = self.seed if self.seed is not None else DEFAULT_SLICE_SEED
            chosen = stratified_sample(chosen, self.per_class, seed)
        if self.limit is not None:
            chosen = chosen[: self.limit]
        return chosen

    def as_dict(self) -> dict[str, Any]:
        """The slice's set fields only (empty = the whole golden set)."""
        data = self.model_dump(exclude_defaults=True)
        if self.per_class is not None:
            data["seed"] = (
                self.seed if self.seed is not None else DEFAULT_SLICE_SEED
            )  # the draw, reproducible
        return data


_SLICE_KEYS = {"class": "classes", "id": "ids", "per-class": "per_class"}
_SLICE_FIELDS = ("classes", "source", "ids", "per_class", "seed", "limit")


def parse_slice(spec: str | None = None, **fields: Any) -> GoldenSlice:
    """A slice from ``class=a,b;source=x;ids=a,b;per_class=N;seed=S;limit=N`` text and/or fields.

    InputError (one line, with what to write instead) when the text or a field is not a valid slice.
    """
    data: dict[str, Any] = {key: value for key, value in fields.items() if value not in (None, [], "")}
    for part in (spec or "").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = _SLICE_KEYS.get(key.strip(), key.strip())
        if not sep or key not in _SLICE_FIELDS:
            raise InputError(
                f"bad slice {part.strip()!r}",
                hint="use class=a,b or source=synthetic or ids=a,b or per_class=N;seed=S or limit=N",
            )
        values = [v.strip() for v in value.split(",") if v.strip()]
        data[key] = values if key in ("classes", "ids") else value.strip()
    try:
        return GoldenSlice.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "slice"
        raise InputError(f"bad slice: {where}: {first['msg'].removeprefix('Value error, ')}") from None


# --- the request and the shard -----------------------------------------------------------------------------


def check_run_id(value: str) -> str:
    """A run id a user chose, or InputError saying what a run id may look like."""
    if not re.match(RUN_ID_PATTERN, value):
        raise InputError(
            f"bad run id {value[:80]!r}",
            hint="use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return value


class EvalRequest(BaseModel):
    """What to run: a prompt version, a model (or the baseline), a slice, how often, and how."""

    prompt: str = DEFAULT_PROMPT
    model: str
    slice: GoldenSlice = Field(default_factory=GoldenSlice)
    repeats: int = Field(default=1, ge=1, le=MAX_REPEATS, description="Answers per example.")
    concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)
    use_cache: bool = True
    run_id: str | None = Field(
        default=None, description="Start or join the run with this id (shards of one Job share it)."
    )

    @field_validator("run_id")
    @classmethod
    def _run_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_run_id(value)
        except InputError as exc:
            raise ValueError(exc.user_message()) from None


class Shard(BaseModel):
    """One worker's share of a run: shard ``index`` of ``count`` (``$JOB_COMPLETION_INDEX/N``)."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=0)
    count: int = Field(ge=1)

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``i/N`` with 0 <= i < N, or InputError."""
        match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
        if not match or int(match.group(1)) >= int(match.group(2)):
            raise InputError(
                f"bad shard {text[:40]!r}", hint="use INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 0/3"
            )
        return cls(index=int(match.group(1)), count=int(match.group(2)))

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


# --- the resolved spec ------------------------------------------------------------------------------------


class RunSpec(BaseModel):
    """What a run runs, resolved at its start; every worker of the run must resolve the same."""

    model_config = ConfigDict(frozen=True)

    prompt_ref: str
    prompt_sha256: str
    model: str
    quantization: str
    gguf_file: str
    params: dict[str, Any]
    golden_version: str
    items_sha256: str
    slice: dict[str, Any]
    item_ids: list[str]
    repeats: int = 1
    use_cache: bool = True

    def sha256(self) -> str:
        """A hash of the spec: equal for two workers exactly when they would run the same thing."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def differences(self, other: RunSpec) -> list[str]:
        """The names of the fields in which two specs differ."""
        mine, theirs = self.model_dump(mode="json"), other.model_dump(mode="json")
        return [name for name in mine if mine[name] != theirs[name]]
