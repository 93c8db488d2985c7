"""The scenario counts the docs quote are the catalogue's: a scenario added or removed fails here until
README and docs say the new figures."""

from __future__ import annotations

import re

from harness.scenario.loader import SCENARIO_DIR
from tests.support.paths import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
"""Hand-written pages (docs/reference is generated, and the guide map counts itself)."""
TOTAL = (
    r"(\d+) scenario files",
    r"(\d+)/\1 scenarios passed",
    r"the (\d+) scenarios",
    r"(\d+) scenarios \(",
    r"-j \d+: (\d+) scenarios",
    r"(?<![\d/])(\d+)(?=: the \d+ guide paths)",
)
GUIDE = (r"(\d+) guide paths", r"guide's (\d+) paths")
DIAGNOSTIC = (r"(\d+) diagnostic ones", r"(\d+) `GD` diagnostic", r"(\d+) diagnostic\)")


def quoted(patterns: tuple[str, ...]) -> list[tuple[str, int]]:
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for pattern in patterns:
            found += [
                (f"{page.relative_to(REPO)}: {m.group(0)!r}", int(m.group(1))) for m in re.finditer(pattern, text)
            ]
    return found


def test_the_docs_quote_the_catalogue_counts() -> None:
    files = [p.name for p in SCENARIO_DIR.glob("*.yaml")]
    diagnostic = sum(name.startswith("GD-") for name in files)
    expected = {"total": len(files), "guide": len(files) - diagnostic, "diagnostic": diagnostic}
    wrong = [
        f"{where} (the catalogue has {expected[kind]})"
        for kind, patterns in (("total", TOTAL), ("guide", GUIDE), ("diagnostic", DIAGNOSTIC))
        for where, count in quoted(patterns)
        if count != expected[kind]
    ]
    assert wrong == []
    assert len(quoted(TOTAL)) >= 4 and quoted(GUIDE) and quoted(DIAGNOSTIC), "the patterns still find the figures"
