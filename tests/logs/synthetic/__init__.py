"""Tests of the synthetic-log engine, and the Alloy config they hold it to."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ALLOY_CONFIG = Path(__file__).resolve().parents[3] / "k8s" / "infrastructure" / "controllers" / "alloy.yaml"


def alloy_config() -> str:
    """The Alloy configuration (River) that k8s/ deploys."""
    release = next(
        doc
        for doc in yaml.safe_load_all(ALLOY_CONFIG.read_text())
        if doc and doc.get("kind") == "HelmRelease"
    )
    return release["spec"]["values"]["alloy"]["configMap"]["content"]


def first_group(pattern: str, text: str) -> str:
    """The first group of ``pattern``'s first match in ``text``; fails the test when there is none."""
    match = re.search(pattern, text)
    assert match is not None, f"{pattern!r} not found in {text!r}"
    return match.group(1)
