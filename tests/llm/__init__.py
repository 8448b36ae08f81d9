"""Tests of app.llm."""

from __future__ import annotations
