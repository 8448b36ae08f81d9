"""Text that must sit in Markdown: escaping trusted text, and untrusted text as a verbatim code span.

Untrusted text (log lines, label values, model output, error bodies) is shown with ``st.text``,
``st.code`` or ``st.dataframe``; where it must sit in Markdown (an error box's body) it goes in as a
code span (``literal``), which Markdown shows verbatim.
"""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~<>$&:;\"'=^%@,/?])")


def escape_markdown(text: str) -> str:
    """``text`` with every Markdown-significant character escaped and whitespace collapsed.

    For trusted text (settings, taxonomy ids) that must not be formatted by accident. Untrusted text
    goes through ``literal``: escapes do not stop GFM from turning a bare URL into a link.
    """
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def literal(text: str) -> str:
    """``text`` as a Markdown code span: shown verbatim, never linked, formatted or turned into emoji."""
    body = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    # A space on each side keeps a leading or trailing backtick from merging with the fence; CommonMark
    # strips one such space from each side again.
    return f"{fence} {body} {fence}"
