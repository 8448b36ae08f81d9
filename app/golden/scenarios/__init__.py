"""Scenario templates for the synthetic golden set, one module per family of root causes.

Importing this package registers every scenario in ``SCENARIOS`` (root cause -> scenarios).
"""

from __future__ import annotations

from app.golden.scenarios import access, bugs, healthy, network, nodes, platform, tls, workload
from app.golden.scenarios.registry import SCENARIOS, Scenario, Verdict

__all__ = [
    "SCENARIOS",
    "Scenario",
    "Verdict",
    "access",
    "bugs",
    "healthy",
    "network",
    "nodes",
    "platform",
    "tls",
    "workload",
]
