"""Markdown escaping for trusted text, and code spans for untrusted text."""

from __future__ import annotations

import re

from app.ui.components.text import escape_markdown, literal


def test_literal_keeps_any_backticks_inside_the_code_span() -> None:
    text = "a `b` ``c`` ![x](http://evil/x.png) :red[y]"
    span = literal(text)
    fence = re.match(r"`+", span)
    assert fence is not None
    assert len(fence.group()) == 3  # longer than the longest run inside
    assert span == f"``` {text} ```"


def test_escape_markdown_escapes_link_and_image_syntax() -> None:
    assert escape_markdown("![x](y) *b* _i_") == r"\!\[x\]\(y\) \*b\* \_i\_"
