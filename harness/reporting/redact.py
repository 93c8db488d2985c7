"""The secrets' mask of every page and file people read: codes and passwords become ``••••``.

Which values are secret is the caller's to say (a run's: ``scenario.report.secrets_of``; diagnose's:
the PIN it was given); this only finds them, as text (raw or HTML-escaped) or as the hex of their
bytes in an APDU log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape

MASK = "••••"


class Redactor:
    """Masks each secret where it stands alone (not inside a longer word or number): as text (raw
    or HTML-escaped) in anything a step reports, and as the hex of its bytes in APDU logs (whose own
    numbers, ``P1P2=0000``, are not codes)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        texts, hexes = set(), set()
        for secret in secrets:
            texts |= {re.escape(secret), re.escape(escape(secret))}
            hexes.add(r"\s?".join(f"{b:02x}" for b in secret.encode()))
        self._text = self._pattern(texts | hexes)
        self._hex = self._pattern(hexes)

    @staticmethod
    def _pattern(forms: set[str]) -> re.Pattern[str] | None:
        if not forms:
            return None
        alternatives = "|".join(sorted(forms, key=len, reverse=True))
        return re.compile(rf"(?<![0-9A-Za-z])(?:{alternatives})(?![0-9A-Za-z])", re.IGNORECASE)

    def text(self, text: str) -> str:
        return self._text.sub(MASK, text) if self._text else text

    def apdus(self, text: str) -> str:
        return self._hex.sub(MASK, text) if self._hex else text
