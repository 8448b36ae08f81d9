"""Which build this process runs: the package version and the git revision it was built from."""

from __future__ import annotations

import subprocess
from pathlib import Path

from app.config import PROJECT_ROOT, Settings

UNKNOWN_REVISION = "unknown"


def git_revision(root: Path = PROJECT_ROOT) -> str:
    """``git rev-parse HEAD`` of the checkout, or "unknown" (no git, not a checkout)."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN_REVISION
    revision = result.stdout.strip()
    return revision if result.returncode == 0 and revision else UNKNOWN_REVISION


def build_revision(settings: Settings, root: Path = PROJECT_ROOT) -> str:
    """The revision the settings name (an image has no .git, so its build sets BUILD_REVISION), else git's."""
    if settings.build_revision and settings.build_revision.strip():
        return settings.build_revision.strip()
    return git_revision(root)
