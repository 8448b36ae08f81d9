"""Scenario templates for the synthetic golden set, one module per family of root causes.

Importing this package registers every scenario in ``SCENARIOS`` (root cause -> scenarios). The
families share the window builder (``window``), log formats (``formats``), benign noise (``noise``),
container life events (``lifecycle``), what clients say when a dependency goes away (``symptoms``)
and benign episodes of other classes placed as red herrings (``decoys``).
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
