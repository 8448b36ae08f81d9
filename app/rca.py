"""The structured root-cause answer a model must give, and its JSON schema for constrained decoding."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.errors import InvalidOutputError
from app.taxonomy import ROOT_CAUSES, RootCause

MAX_EVIDENCE = 8
MAX_SUMMARY_CHARS = 400
MAX_EVIDENCE_LINE = 9999
CONFIDENCE_STEPS = [round(step * 0.05, 2) for step in range(21)]
# Printable ASCII without '"' and '\\': every character of a constrained answer is then one byte, so
# it is at most one token, and no escape sequence can stretch a summary.
SUMMARY_PATTERN = rf"^[\x20\x21\x23-\x5B\x5D-\x7E]{{1,{MAX_SUMMARY_CHARS}}}$"
# llama.cpp's JSON-schema grammar allows "\n"{1,2} followed by up to 20 spaces or tabs at every place
# JSON allows whitespace.
GRAMMAR_MAX_WHITESPACE = 22


class RootCauseAnalysis(BaseModel):
    """A model's answer: one root cause from the taxonomy, its confidence, cited lines and a summary."""

    model_config = ConfigDict(extra="ignore")

    root_cause: RootCause
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[int] = Field(
        default_factory=list,
        max_length=MAX_EVIDENCE,
        description="Line numbers, as shown in the prompt (1-based), of the lines that prove the cause.",
    )
    summary: str = Field(max_length=MAX_SUMMARY_CHARS)


def rca_json_schema() -> dict[str, Any]:
    """The JSON schema sent to the server for grammar-constrained output.

    Bounded lengths keep a constrained (even random-weight) model from generating forever.
    """
    schema = RootCauseAnalysis.model_json_schema()
    props = schema["properties"]
    props["evidence"]["items"] = {"type": "integer", "minimum": 1, "maximum": MAX_EVIDENCE_LINE}
    props["evidence"]["maxItems"] = MAX_EVIDENCE
    # llama.cpp's grammar enforces minimum/maximum only on integers, so a bare number could come back as
    # 4.5E0; a closed set of confidences in 0.05 steps keeps constrained output inside [0, 1].
    props["confidence"] = {"type": "number", "enum": CONFIDENCE_STEPS}
    props["summary"]["minLength"] = 1
    props["summary"]["maxLength"] = MAX_SUMMARY_CHARS
    props["summary"]["pattern"] = SUMMARY_PATTERN
    schema["required"] = ["root_cause", "confidence", "evidence", "summary"]
    schema["additionalProperties"] = False
    for prop in props.values():
        prop.pop("title", None)
    schema.pop("title", None)
    return schema


def max_answer_chars() -> int:
    """The longest answer the schema's grammar admits, in characters (all ASCII, so also in tokens).

    A prompt whose ``max_tokens`` is at least this (plus one for end-of-turn) can never be cut off
    before its JSON closes, whatever a constrained model does.
    """
    keys = ("root_cause", "confidence", "evidence", "summary")
    structure = 2 + sum(len(json.dumps(key)) + 1 for key in keys) + (len(keys) - 1)
    root_cause = max(len(json.dumps(cause)) for cause in ROOT_CAUSES)
    confidence = max(len(json.dumps(step)) for step in CONFIDENCE_STEPS)
    evidence = 2 + MAX_EVIDENCE * len(str(MAX_EVIDENCE_LINE)) + (MAX_EVIDENCE - 1)
    summary = 2 + MAX_SUMMARY_CHARS
    # Whitespace: after "{", before "}", after each key and colon, after each comma between keys; in the
    # evidence list after "[", before "]" and after each comma.
    whitespace_places = 2 + 2 * len(keys) + (len(keys) - 1) + 2 + (MAX_EVIDENCE - 1)
    return (
        structure + root_cause + confidence + evidence + summary + whitespace_places * GRAMMAR_MAX_WHITESPACE
    )


def parse_rca(raw: str) -> RootCauseAnalysis:
    """Validate a model's raw text as an RCA; raises InvalidOutputError saying what is wrong."""
    text = raw.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text.removeprefix("json").strip()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidOutputError(f"model output is not JSON ({exc.msg} at char {exc.pos})", raw=raw) from None
    try:
        return RootCauseAnalysis.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "output"
        raise InvalidOutputError(
            f"model output does not match the RCA schema: {where}: {first['msg']}", raw=raw
        ) from None
