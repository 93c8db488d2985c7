"""Where cps-harness keeps what it makes once and reuses: RSA keys, C helpers built for this machine.

One place, below every layer, so the PC/SC stack (which builds vpcd's shims) and the PKI (which
caches keys) agree on it without importing each other.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir() -> Path:
    """``$CPS_HARNESS_CACHE``, else ``$XDG_CACHE_HOME/cps-harness``, else ``~/.cache/cps-harness``."""
    if explicit := os.environ.get("CPS_HARNESS_CACHE"):
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cps-harness"
