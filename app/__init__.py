"""LogTriage: triage Kubernetes logs with small local language models."""

from __future__ import annotations

__version__ = "0.1.0"
