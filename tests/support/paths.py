"""Where things are in the repository, for tests that read its files or run its examples."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository's root (the folder with pyproject.toml)."""
DATA = REPO / "tests" / "data"
"""Recorded material the tests replay (OpenSC's APDUs)."""
