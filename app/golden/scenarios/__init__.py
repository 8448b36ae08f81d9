"""The scenario catalog of the synthetic golden set: one module per root cause.

Importing the package registers every scenario in ``SCENARIOS`` (root cause -> scenarios).
"""

from __future__ import annotations

from app.golden.scenarios import (
    access,
    bugs,
    config,
    dependencies,
    dns,
    healthy,
    images,
    memory,
    nodes,
    probes,
    scheduling,
    tls,
    volumes,
)
from app.golden.scenarios.registry import SCENARIOS, Scenario, Verdict

__all__ = [
    "SCENARIOS",
    "Scenario",
    "Verdict",
    "access",
    "bugs",
    "config",
    "dependencies",
    "dns",
    "healthy",
    "images",
    "memory",
    "nodes",
    "probes",
    "scheduling",
    "tls",
    "volumes",
]
