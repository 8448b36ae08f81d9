"""Prompts: every prompt and version, its template, a rendered example, and a diff of any two."""

from __future__ import annotations

import streamlit as st

from app.prompts.registry import (
    PromptVersion,
    diff_versions,
    example_context,
    render_prompt,
    split_front_matter,
)
from app.ui import cache, components


def versions_table(versions: list[PromptVersion]) -> None:
    """One row per version: name, hash, whether it is on disk now, first seen, description."""
    st.dataframe(
        [
            {
                "prompt": v.name,
                "version": v.short_hash,
                "current": v.is_current,
                "first seen": v.first_seen,
                "description": v.description,
                "sha256": v.sha256,
            }
            for v in reversed(versions)
        ],
        hide_index=True,
        column_config={
            "current": st.column_config.CheckboxColumn("on disk", width="small"),
            "first seen": st.column_config.DatetimeColumn("first seen (UTC)", format="YYYY-MM-DD HH:mm"),
            "description": st.column_config.TextColumn("description", width="large"),
            "sha256": st.column_config.TextColumn("sha256", width="medium"),
        },
    )


def _label(version: PromptVersion) -> str:
    first_seen = f"{version.first_seen:%Y-%m-%d %H:%M}" if version.first_seen else "not stored"
    return f"{version.name} @ {version.short_hash} · {first_seen}" + (
        " · on disk" if version.is_current else ""
    )


def version_detail(version: PromptVersion) -> None:
    """Front matter, template and an example rendering of one version."""
    front, body = split_front_matter(version.template, version.source_path or version.ref)
    st.caption(components.escape_markdown(f"{version.ref} · sha256 {version.sha256}"))
    meta, template, rendered = st.tabs(["Front matter", "Template", "Rendered example"])
    with meta:
        st.json(front.model_dump(mode="json"))
        if version.source_path:
            st.caption("File")
            st.code(version.source_path, language=None)
    with template:
        st.code(body, language="django", line_numbers=True, wrap_lines=True)
    with rendered, components.error_boundary("rendering the example"):
        example = render_prompt(version, example_context())
        st.caption("System")
        st.code(example.system, language=None, wrap_lines=True)
        for number, turn in enumerate(example.example_turns, start=1):
            st.caption(f"Worked example {number} (an earlier turn of the chat)")
            st.code(f"{turn.user}\n{turn.assistant}", language=None, wrap_lines=True)
        st.caption("User")
        st.code(example.user, language=None, wrap_lines=True)


def diff_section(versions: list[PromptVersion]) -> None:
    """A unified diff between any two versions."""
    if len(versions) < 2:
        st.info("Only one version is stored so far; a diff needs two.")
        return
    left, right = st.columns(2)
    newest = len(versions) - 1
    a = left.selectbox("From", versions, index=max(newest - 1, 0), format_func=_label, key="prompts.diff_a")
    b = right.selectbox("To", versions, index=newest, format_func=_label, key="prompts.diff_b")
    if a is None or b is None:
        return
    diff = diff_versions(a, b)
    if diff:
        st.code(diff, language="diff", height=640)
    else:
        st.info("The two versions are identical.")


def main() -> None:
    """The Prompts page."""
    st.title("Prompts", anchor=False)
    st.caption("A prompt version is the sha256 of its file: edit a template and a new version appears here.")
    with components.error_boundary("loading prompts"):
        versions = cache.prompt_versions()
        if not versions:
            st.info("No prompts found. Add a .j2 template to the prompts folder.")
            return
        versions_table(versions)
        with st.container(border=True):
            st.subheader("Version", anchor=False)
            current = [i for i, v in enumerate(versions) if v.is_current]
            chosen = st.selectbox(
                "Version",
                versions,
                index=current[-1] if current else len(versions) - 1,
                format_func=_label,
                key="prompts.version",
                label_visibility="collapsed",
            )
            if chosen is not None:
                with components.error_boundary("showing the version"):
                    version_detail(chosen)
        with st.container(border=True):
            st.subheader("Diff", anchor=False)
            diff_section(versions)


main()
