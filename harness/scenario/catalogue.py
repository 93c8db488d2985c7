"""Where the packaged scenario catalogue lives: ``harness/catalogue``, shipped in the wheel.

In the repository ``harness/catalogue`` is a symbolic link to the top-level ``scenarios/`` (the
product's layout keeps the files there); the wheel's build follows it and ships the files inside
the ``harness`` package, so an installed cps-harness finds its 41 scenarios, its personas and
the schema through ``importlib.resources`` without a clone. Wheels are installed unzipped, so
the catalogue is a real folder on disk (curl, OpenSC and the reports take paths).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def catalogue_dir() -> Path:
    """The packaged scenarios folder (``*.yaml``, ``personas/``, ``schema.json``)."""
    return Path(str(resources.files("harness") / "catalogue")).resolve()  # the repository: its scenarios/


def packaged_personas() -> Path:
    return catalogue_dir() / "personas"
