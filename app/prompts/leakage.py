"""Few-shot leakage: does an answer copy a prompt's worked example instead of reading its own logs?

Small models copy. A summary that reads "the cart JVM ran out of memory" about a window with no cart and
no JVM in it came from the worked example, not from the logs. The test here is general, not a list of
today's example strings:

* an example's *distinctive units* are its identifiers (tokens with a digit, a dash, an underscore, a dot
  or an inner capital: ``app-a``, ``10.96.0.10``, ``OOMKilling``) and its word 4-grams (``the restarts
  follow from``), taken from its log lines and its answer's summary;
* a unit that also occurs in the window's own logs (or in text every answer may repeat, such as the
  prompt's instructions and taxonomy) is not evidence of copying and is dropped;
* the answer leaks when its text contains a remaining unit, or when it cites exactly an example's
  evidence list of two or more lines in the same order.

Matching is case-insensitive and on word boundaries, so ``app-a`` does not match inside ``app-ab``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pydantic import BaseModel, Field

from app.errors import PromptError
from app.logs.models import LogEntry
from app.prompts.registry import PromptExample, PromptVersion, example_context, render_prompt

PHRASE_WORDS = 4
MIN_IDENTIFIER_CHARS = 3
# Words too common to make a phrase distinctive on their own: a 4-gram made only of these is skipped.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "because",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "so",
        "than",
        "that",
        "the",
        "then",
        "there",
        "this",
        "to",
        "was",
        "were",
        "which",
        "while",
        "with",
    ]
)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]*[A-Za-z0-9]|[A-Za-z0-9]")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
# Where the instructions break into sentences: after . ; ! ? followed by space, and at line ends.
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+|\n+")


class LeakReport(BaseModel):
    """What an answer copied from a prompt's worked examples (empty when it copied nothing)."""

    identifiers: list[str] = Field(default_factory=list, description="Example identifiers in the answer.")
    phrases: list[str] = Field(default_factory=list, description="Example word 4-grams in the answer.")
    same_evidence_as: list[int] = Field(
        default_factory=list, description="1-based numbers of examples whose evidence list the answer cites."
    )

    @property
    def leaked(self) -> bool:
        """Whether the answer copies a worked example."""
        return bool(self.identifiers or self.phrases or self.same_evidence_as)

    def describe(self) -> str:
        """One line for people: what was copied."""
        parts = []
        if self.identifiers:
            parts.append("names " + ", ".join(repr(i) for i in self.identifiers))
        if self.phrases:
            parts.append("phrases " + ", ".join(repr(p) for p in self.phrases))
        if self.same_evidence_as:
            parts.append("the evidence list of example " + ", ".join(map(str, self.same_evidence_as)))
        return "copies " + "; ".join(parts) if parts else "copies nothing from the worked examples"

    def copied(self) -> list[str]:
        """What was copied, one entry per unit: identifiers, phrases, then whole evidence lists."""
        return [
            *self.identifiers,
            *self.phrases,
            *(f"the evidence list of worked example {n}" for n in self.same_evidence_as),
        ]


def _is_identifier(token: str) -> bool:
    if len(token) < MIN_IDENTIFIER_CHARS:
        return False
    if any(ch.isdigit() for ch in token) or any(ch in "-_.:/" for ch in token):
        return True
    # CamelCase (OOMKilling, BackOff), but not an all-caps word (ERROR, JVM): those are ordinary words.
    return any(ch.islower() for ch in token) and any(ch.isupper() for ch in token[1:])


def identifiers(text: str) -> set[str]:
    """The identifier-like tokens of ``text``, lower-cased; ``ns/pod`` also yields ``ns`` and ``pod``."""
    found: set[str] = set()
    for token in _TOKEN.findall(text):
        for part in (token, *token.split("/")):
            if part and _is_identifier(part):
                found.add(part.lower())
    return found


def phrases(text: str, n: int = PHRASE_WORDS) -> set[str]:
    """The word n-grams of ``text`` (lower-cased letters only) that are not all stopwords."""
    words = _WORD.findall(text.lower())
    grams = {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}
    return {gram for gram in grams if any(word not in _STOPWORDS for word in gram.split())}


def _contains_identifier(haystack: str, needle: str) -> bool:
    # The identifier as a whole token: not preceded or followed by another token character.
    pattern = rf"(?<![A-Za-z0-9_.:/-]){re.escape(needle)}(?![A-Za-z0-9_:/-]|\.[A-Za-z0-9])"
    return re.search(pattern, haystack) is not None


def example_units(example: PromptExample) -> tuple[set[str], set[str]]:
    """The identifiers and phrases of one worked example (its log lines and its summary)."""
    # The "[n]" line numbers and clock times are how every prompt numbers lines, not example content.
    lines = [re.sub(r"^\[\d+\]\s*(\d{2}:\d{2}:\d{2}Z\s*)?", "", line) for line in example.logs]
    text = "\n".join([*lines, example.answer.summary])
    return identifiers(text), phrases(text)


def find_leaks(
    summary: str,
    evidence: Sequence[int],
    examples: Sequence[PromptExample],
    window_text: str,
    *,
    cited_text: Iterable[str] = (),
    shared_text: str = "",
) -> LeakReport:
    """What ``summary`` and the cited lines copy from ``examples`` that the window's logs do not contain.

    ``window_text`` is the window's own log text; ``shared_text`` is text any answer may repeat without
    copying (the prompt's instructions and taxonomy). ``evidence`` is the cited line numbers.
    """
    answer = "\n".join([summary, *cited_text]).lower()
    allowed = f"{window_text}\n{shared_text}".lower()
    allowed_phrases = phrases(allowed)
    answer_phrases = phrases(answer)
    found_ids: set[str] = set()
    found_phrases: set[str] = set()
    same: list[int] = []
    cited = list(evidence)
    for number, example in enumerate(examples, start=1):
        ids, grams = example_units(example)
        found_ids |= {
            i for i in ids if _contains_identifier(answer, i) and not _contains_identifier(allowed, i)
        }
        found_phrases |= (grams & answer_phrases) - allowed_phrases
        if len(example.answer.evidence) >= 2 and cited == list(example.answer.evidence):
            same.append(number)
    return LeakReport(identifiers=sorted(found_ids), phrases=sorted(found_phrases), same_evidence_as=same)


def window_text(entries: Sequence[LogEntry]) -> str:
    """A window's own text as the model sees it: each entry's label values (pod, container) and line."""
    return "\n".join(" ".join([*entry.labels.values(), entry.line]) for entry in entries)


def shared_text(version: PromptVersion) -> str:
    """What any answer under ``version`` may repeat without copying: its instructions and taxonomy.

    That is the version's system text rendered without its worked examples, less the sentences that name
    one of the examples' identifiers: such a sentence talks about the examples ("app-a and the like are
    placeholders"), and repeating its names is copying them.
    """
    context = example_context()
    try:
        system = render_prompt(version, {**context, "examples": []}).system
    except PromptError:  # a template that needs its examples in the system text: render them, drop below
        system = render_prompt(version, context).system
    names: set[str] = set()
    for example in version.examples:
        names |= example_units(example)[0]
    kept = [
        sentence
        for sentence in _SENTENCE_END.split(system)
        if not any(_contains_identifier(sentence.lower(), name) for name in names)
    ]
    return "\n".join(kept)
