"""Versioned prompt templates: a version is the sha256 of the template file's bytes."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, cast

import yaml
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Engine, Table, select

from app.errors import PromptError, UnknownPromptError
from app.rca import RootCauseAnalysis
from app.store.db import session_scope
from app.store.sql import upsert
from app.store.tables import PromptVersionRow, utcnow

SHORT_HASH = 12
TEMPLATE_SUFFIX = ".j2"
_FRONT_MATTER = re.compile(r"\A---\s*\n(?P<meta>.*?)\n---\s*\n(?P<body>.*)\Z", re.S)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
REQUIRED_BLOCKS = ("system", "user")
EXAMPLE_BLOCK = "example"
_LINE_NUMBER = re.compile(r"^\[(\d+)\]")


class PromptExample(BaseModel):
    """A worked example of a prompt: log lines as the prompt shows them, and the answer to them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    logs: list[str] = Field(min_length=1, description="Log lines in prompt form, each starting '[n]'.")
    answer: RootCauseAnalysis

    @model_validator(mode="after")
    def _evidence_points_at_lines(self) -> PromptExample:
        numbers = {int(m[1]) for line in self.logs if (m := _LINE_NUMBER.match(line))}
        missing = [n for n in self.answer.evidence if n not in numbers]
        if missing:
            raise ValueError(f"the answer cites line(s) {missing} that the example's logs do not have")
        return self

    @property
    def answer_json(self) -> str:
        """The answer as the model should write it: one line of JSON, keys in schema order."""
        return json.dumps(self.answer.model_dump(mode="json"), ensure_ascii=False)

    def for_template(self) -> dict[str, Any]:
        """What a template sees as one item of ``examples``: ``logs`` and ``answer`` (JSON text)."""
        return {"logs": list(self.logs), "answer": self.answer_json}


class FrontMatter(BaseModel):
    """The YAML header of a prompt file."""

    name: str
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict, description="Sampling params for the model.")
    tags: list[str] = Field(default_factory=list)
    examples: list[PromptExample] = Field(
        default_factory=list, description="Worked examples; the template shows them as ``examples``."
    )


class PromptVersion(BaseModel):
    """One version of a prompt: its content hash, header and template body."""

    name: str
    sha256: str
    description: str
    params: dict[str, Any]
    template: str = Field(description="The whole file as text, front matter included.")
    source_path: str = ""
    first_seen: datetime | None = None
    is_current: bool = Field(default=False, description="True when the file on disk has this content.")

    @property
    def short_hash(self) -> str:
        """The 12-hex form shown to users."""
        return self.sha256[:SHORT_HASH]

    @property
    def ref(self) -> str:
        """``name@<12 hex>``, the exact way to name this version."""
        return f"{self.name}@{self.short_hash}"

    @property
    def body(self) -> str:
        """The Jinja2 template without its front matter."""
        return split_front_matter(self.template, self.source_path)[1]

    @cached_property
    def examples(self) -> list[PromptExample]:
        """The worked examples of this version's front matter (empty for a zero-shot prompt)."""
        return split_front_matter(self.template, self.source_path or self.ref)[0].examples


class ExampleTurn(BaseModel):
    """A worked example sent as an earlier exchange of the chat: its logs asked, its answer given."""

    user: str
    assistant: str


class RenderedPrompt(BaseModel):
    """A rendered prompt: the system message, worked examples as earlier turns (if any), the user message."""

    version_ref: str
    system: str
    user: str
    example_turns: list[ExampleTurn] = Field(default_factory=list)

    def messages(self) -> list[dict[str, str]]:
        """The OpenAI-style chat messages."""
        turns = [
            message
            for turn in self.example_turns
            for message in (
                {"role": "user", "content": turn.user},
                {"role": "assistant", "content": turn.assistant},
            )
        ]
        return [{"role": "system", "content": self.system}, *turns, {"role": "user", "content": self.user}]

    def prefix_text(self) -> str:
        """Everything before the user message: the part a server's prompt cache can keep between runs."""
        return "\n".join([self.system, *(f"{t.user}\n{t.assistant}" for t in self.example_turns)])


def prompt_sha256(data: bytes) -> str:
    """The version id of a template: sha256 of its bytes."""
    return hashlib.sha256(data).hexdigest()


def split_front_matter(text: str, where: str = "prompt") -> tuple[FrontMatter, str]:
    """Parse a prompt file into its validated front matter and template body."""
    match = _FRONT_MATTER.match(text)
    if not match:
        raise PromptError(f"{where}: no front matter; a prompt starts with a '---' YAML header and '---'")
    try:
        meta = yaml.safe_load(match["meta"]) or {}
        front = FrontMatter.model_validate(meta)
    except (yaml.YAMLError, ValidationError) as exc:
        raise PromptError(f"{where}: invalid front matter: {' '.join(str(exc).split())[:300]}") from None
    if not _NAME.match(front.name):
        raise PromptError(
            f"{where}: prompt name {front.name!r} must be lowercase letters, digits, '.', '_', '-'"
        )
    return front, match["body"]


def _environment() -> SandboxedEnvironment:
    # Sandboxed: templates are data that people edit; StrictUndefined: a typo is an error, not "".
    return SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


_ENV = _environment()


def check_template(text: str, where: str) -> FrontMatter:
    """Validate a prompt file: front matter and a template that compiles with system and user blocks."""
    front, body = split_front_matter(text, where)
    try:
        template = _ENV.from_string(body)
    except TemplateSyntaxError as exc:
        raise PromptError(f"{where}: template syntax error on line {exc.lineno}: {exc.message}") from None
    missing = [block for block in REQUIRED_BLOCKS if block not in template.blocks]
    if missing:
        raise PromptError(f"{where}: template lacks block(s) {', '.join(missing)}")
    return front


def render_prompt(version: PromptVersion, context: dict[str, Any]) -> RenderedPrompt:
    """Render a version's system and user blocks with ``context``; missing variables are errors.

    The version's worked examples are available to the template as ``examples``. A template with an
    ``example`` block sends them as earlier chat turns instead: the block, rendered with ``example``,
    is the user turn and the example's answer the assistant turn.
    """
    body = version.body
    examples = [e.for_template() for e in version.examples]
    try:
        template = _ENV.from_string(body)
        ctx = template.new_context({"examples": examples, **context})
        parts = {}
        for block in REQUIRED_BLOCKS:
            parts[block] = "".join(template.blocks[block](ctx)).strip()
        turns = []
        if EXAMPLE_BLOCK in template.blocks:
            for example in examples:
                example_ctx = template.new_context({"examples": examples, **context, "example": example})
                user = "".join(template.blocks[EXAMPLE_BLOCK](example_ctx)).strip()
                turns.append(ExampleTurn(user=user, assistant=example["answer"]))
    except TemplateError as exc:
        raise PromptError(f"prompt {version.ref} failed to render: {exc}") from None
    except KeyError as exc:
        raise PromptError(f"prompt {version.ref} lacks block {exc}") from None
    return RenderedPrompt(
        version_ref=version.ref, system=parts["system"], user=parts["user"], example_turns=turns
    )


def diff_versions(a: PromptVersion, b: PromptVersion) -> str:
    """A unified diff of two versions' files."""
    lines = difflib.unified_diff(
        a.template.splitlines(keepends=True),
        b.template.splitlines(keepends=True),
        fromfile=a.ref,
        tofile=b.ref,
    )
    return "".join(lines)


class PromptRegistry:
    """The prompts on disk, plus every version ever seen, kept in the store."""

    def __init__(self, prompts_dir: Path, engine: Engine) -> None:
        self.prompts_dir = prompts_dir
        self.engine = engine

    def _load_files(self) -> list[PromptVersion]:
        if not self.prompts_dir.is_dir():
            raise PromptError(f"prompts folder {self.prompts_dir} does not exist", hint="set PROMPTS_DIR")
        versions: list[PromptVersion] = []
        seen: dict[str, Path] = {}
        for path in sorted(self.prompts_dir.glob(f"*{TEMPLATE_SUFFIX}")):
            data = path.read_bytes()
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise PromptError(f"{path}: not UTF-8 text") from None
            front = check_template(text, str(path))
            if front.name in seen:
                raise PromptError(f"{path}: prompt name {front.name!r} is also used by {seen[front.name]}")
            seen[front.name] = path
            versions.append(
                PromptVersion(
                    name=front.name,
                    sha256=prompt_sha256(data),
                    description=front.description,
                    params=front.params,
                    template=text,
                    source_path=str(path),
                    is_current=True,
                )
            )
        return versions

    def sync(self) -> list[PromptVersion]:
        """Load the prompt files and record any version not stored yet; returns the current versions."""
        current = self._load_files()
        with session_scope(self.engine) as session:
            known = set(session.scalars(select(PromptVersionRow.sha256)))
            for version in current:
                if version.sha256 not in known:
                    # Insert-or-skip: processes starting together (the shards of one eval) sync at once.
                    upsert(
                        session,
                        cast(Table, PromptVersionRow.__table__),
                        {
                            "sha256": version.sha256,
                            "name": version.name,
                            "description": version.description,
                            "template": version.template,
                            "front_matter": {"params": version.params},
                            "source_path": version.source_path,
                            "first_seen": utcnow(),
                        },
                    )
        stored = {v.sha256: v for v in self.all_versions(sync=False)}
        return [stored.get(v.sha256, v).model_copy(update={"is_current": True}) for v in current]

    def all_versions(self, name: str | None = None, *, sync: bool = True) -> list[PromptVersion]:
        """Every stored version (of one prompt, or all), oldest first."""
        current = {v.sha256 for v in self.sync()} if sync else set()
        with session_scope(self.engine) as session:
            query = select(PromptVersionRow).order_by(PromptVersionRow.first_seen, PromptVersionRow.sha256)
            if name is not None:
                query = query.where(PromptVersionRow.name == name)
            rows = list(session.scalars(query))
        return [
            PromptVersion(
                name=row.name,
                sha256=row.sha256,
                description=row.description,
                params=dict((row.front_matter or {}).get("params", {})),
                template=row.template,
                source_path=row.source_path,
                first_seen=row.first_seen,
                is_current=row.sha256 in current,
            )
            for row in rows
        ]

    def names(self) -> list[str]:
        """Names of the prompts on disk."""
        return [v.name for v in self.sync()]

    def resolve(self, ref: str) -> PromptVersion:
        """A version by ``name``, ``name@latest`` or ``name@<hash prefix>`` (at least 6 hex)."""
        name, _, wanted = ref.strip().partition("@")
        wanted = wanted.lower() or "latest"
        current = {v.name: v for v in self.sync()}
        if wanted == "latest":
            if name in current:
                return current[name]
            versions = self.all_versions(name, sync=False)
            if versions:
                return versions[-1]
            raise UnknownPromptError(
                f"unknown prompt {name!r}", hint=f"known prompts: {', '.join(sorted(current)) or 'none'}"
            )
        if not re.fullmatch(r"[0-9a-f]{6,64}", wanted):
            raise UnknownPromptError(
                f"bad prompt version {ref!r}", hint="use name@latest or name@<at least 6 hex of its hash>"
            )
        matches = [v for v in self.all_versions(name, sync=False) if v.sha256.startswith(wanted)]
        if not matches:
            known = ", ".join(v.ref for v in self.all_versions(name, sync=False)) or "none"
            raise UnknownPromptError(f"no version {ref!r}", hint=f"known versions: {known}")
        if len(matches) > 1:
            raise UnknownPromptError(f"version {ref!r} is ambiguous", hint="give more hex digits")
        version = matches[0]
        return version.model_copy(
            update={"is_current": version.sha256 in {v.sha256 for v in current.values()}}
        )

    def diff(self, ref_a: str, ref_b: str) -> str:
        """A unified diff between two versions named by ref."""
        return diff_versions(self.resolve(ref_a), self.resolve(ref_b))


def example_context(lines: Sequence[str] | None = None) -> dict[str, Any]:
    """A small, fixed render context for previews and tests."""
    from app.taxonomy import DEFINITIONS, ROOT_CAUSES

    sample = list(
        lines
        or [
            "[1] 10:00:01Z payments/api-7d9f-x2 INFO listening on :8080",
            "[2] 10:00:05Z payments/api-7d9f-x2 ERROR dial tcp 10.0.3.7:5432: connect: connection refused (x12)",
            "[3] 10:00:09Z payments/api-7d9f-x2 WARN Back-off restarting failed container",
        ]
    )
    return {
        "namespace": "payments",
        "window_start": "2026-11-26T10:00:00Z",
        "window_end": "2026-11-26T11:00:00Z",
        "log_lines": sample,
        "line_count": len(sample),
        "budget_summary": f"{len(sample)} of {len(sample)} lines kept",
        "taxonomy": [{"id": cause, "definition": DEFINITIONS[cause]} for cause in ROOT_CAUSES],
    }
