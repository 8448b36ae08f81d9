"""Tests of the synthetic-log engine, and the Alloy config they hold it to."""

from __future__ import annotations

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
