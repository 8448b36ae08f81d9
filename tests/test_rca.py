"""The RCA schema: every field bounded, so constrained decoding always ends inside ``max_tokens``."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from app.llm.client import ChatMessage, LLMClient, SamplingParams
from app.llm.server import LocalModelServer
from app.rca import (
    CONFIDENCE_STEPS,
    GRAMMAR_MAX_WHITESPACE,
    MAX_EVIDENCE,
    MAX_EVIDENCE_LINE,
    MAX_SUMMARY_CHARS,
    max_answer_chars,
    parse_rca,
    rca_json_schema,
)
from app.taxonomy import ROOT_CAUSES


def test_every_field_is_bounded() -> None:
    props = rca_json_schema()["properties"]
    assert props["evidence"]["maxItems"] == MAX_EVIDENCE
    assert props["evidence"]["items"]["maximum"] == MAX_EVIDENCE_LINE
    assert props["summary"]["maxLength"] == MAX_SUMMARY_CHARS
    summary = re.compile(props["summary"]["pattern"])
    assert summary.match("The api cannot reach its db at 10.0.3.7:5432 (x3); it restarts.")
    # One byte per character, and no escapes: nothing can stretch a summary past its length in tokens.
    for bad in ('say "hi"', "back\\slash", "résumé", "x" * (MAX_SUMMARY_CHARS + 1), ""):
        assert not summary.match(bad), bad
    assert props["confidence"]["enum"] == CONFIDENCE_STEPS
    assert set(props["root_cause"]["enum"]) == set(ROOT_CAUSES)
    assert rca_json_schema()["additionalProperties"] is False


def test_the_longest_admissible_answer_has_max_answer_chars() -> None:
    # Built by hand the way llama.cpp's grammar allows it: the longest value of every field and the
    # most whitespace at every place whitespace may go.
    ws = "\n\n" + "\t" * (GRAMMAR_MAX_WHITESPACE - 2)
    longest_cause = max(ROOT_CAUSES, key=len)
    longest_confidence = max((json.dumps(c) for c in CONFIDENCE_STEPS), key=len)
    evidence = "[" + ws + ("," + ws).join([str(MAX_EVIDENCE_LINE)] * MAX_EVIDENCE) + ws + "]"
    summary = json.dumps("x" * MAX_SUMMARY_CHARS)
    pairs = [
        f'"root_cause"{ws}:{ws}"{longest_cause}"',
        f'"confidence"{ws}:{ws}{longest_confidence}',
        f'"evidence"{ws}:{ws}{evidence}',
        f'"summary"{ws}:{ws}{summary}',
    ]
    answer = "{" + ws + ("," + ws).join(pairs) + ws + "}"
    assert parse_rca(answer).evidence == [MAX_EVIDENCE_LINE] * MAX_EVIDENCE
    assert len(answer) == max_answer_chars()


@pytest.mark.llama
def test_llama_server_compiles_the_whole_schema_into_its_grammar(
    llama_server: LocalModelServer, llm_http: httpx.Client
) -> None:
    """No part of the schema (the summary's pattern above all) is silently dropped by llama.cpp."""
    client = LLMClient(llama_server.base_url, "tiny-q4_k_m", client=llm_http, timeout=httpx.Timeout(120.0))
    before = llama_server.log_path.read_text(errors="replace")
    text, stats = client.complete_chat(
        [ChatMessage(role="user", content="Réponds en JSON, résumé en français «accentué».")],
        SamplingParams(temperature=1.0, max_tokens=max_answer_chars() + 1, seed=7),
        response_schema=rca_json_schema(),
    )
    log = llama_server.log_path.read_text(errors="replace")[len(before) :]
    assert "schema conversion was incomplete" not in log
    assert "not supported" not in log
    assert stats.finish_reason == "stop"
    assert text.isascii()
    parse_rca(text)
