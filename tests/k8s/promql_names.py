"""Metric and label names a PromQL expression (or a Grafana variable query) refers to.

Not a PromQL parser: a tokenizer that knows which identifiers are functions, aggregations and
keywords, so the remaining identifiers are metric names, and which positions hold label names
(selector matchers and by/without/on/ignoring/group_left/group_right lists).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

AGGREGATIONS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"})

_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<range>\[[^\]]*\])
    | (?P<variable>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)
    | (?P<number>(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?:ms|[smhdwy])*)
    | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<matcher>=~|!~|!=|==|=)
    | (?P<punct>[(){},])
    | (?P<other>\S)
    """,
    re.VERBOSE,
)


@dataclass
class QueryNames:
    """What one expression refers to."""

    metrics: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)


def tokenize(expression: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of expression, whitespace dropped."""
    return [(match.lastgroup or "other", match.group()) for match in _TOKEN.finditer(expression)]


def names_in_promql(expression: str) -> QueryNames:
    """Metric names and label names used in a PromQL expression."""
    tokens = tokenize(expression)
    names = QueryNames()
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
        if kind == "ident":
            if text in LABEL_LIST_KEYWORDS:
                if following == "(":
                    index = _read_label_list(tokens, index + 2, names.labels)
                    continue
            elif text in AGGREGATIONS or text in KEYWORDS or following == "(":
                pass  # function, aggregation or keyword
            else:
                names.metrics.add(text)
        elif text == "{":
            index = _read_matchers(tokens, index + 1, names)
            continue
        index += 1
    return names


def _read_label_list(tokens: list[tuple[str, str]], index: int, labels: set[str]) -> int:
    while index < len(tokens) and tokens[index][1] != ")":
        if tokens[index][0] == "ident":
            labels.add(tokens[index][1])
        index += 1
    return index + 1


def _read_matchers(tokens: list[tuple[str, str]], index: int, names: QueryNames) -> int:
    while index < len(tokens) and tokens[index][1] != "}":
        kind, text = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else ("", "")
        if kind == "ident" and following[0] == "matcher":
            if text == "__name__" and index + 2 < len(tokens) and tokens[index + 2][0] == "string":
                names.metrics.add(tokens[index + 2][1][1:-1])
            else:
                names.labels.add(text)
        index += 1
    return index + 1


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?P<args>.*)\)\s*$", re.DOTALL)


def names_in_variable_query(query: str) -> QueryNames:
    """Names used by a Grafana Prometheus variable query: label_values(...), or plain PromQL."""
    match = _LABEL_VALUES.match(query)
    if not match:
        return names_in_promql(query)
    selector, _, label = match.group("args").rpartition(",")
    if not selector:  # label_values(label)
        return QueryNames(labels={label.strip()})
    names = names_in_promql(selector)
    names.labels.add(label.strip())
    return names


_LEGEND_LABEL = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def labels_in_legend(legend: str) -> set[str]:
    """Label names a Grafana legend format such as ``{{model}} p95`` prints."""
    return set(_LEGEND_LABEL.findall(legend))
