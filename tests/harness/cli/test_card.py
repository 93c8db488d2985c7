"""``cps-harness card status``: the readers' table a trainer reads."""

from __future__ import annotations

from rich.console import Console

from harness.cli.card import _status_table


def test_status_shows_each_certificates_variant_when_they_differ() -> None:
    readers = [
        {"reader": "Virtual PCD 00 00", "present": True, "apdus": 12,
         "certificates": {"authentication": "expired", "signature": "valid"}},
        {"reader": "Virtual PCD 00 01", "present": True,
         "certificates": {"authentication": "revoked", "signature": "revoked"}},
        {"reader": "Virtual PCD 00 02", "present": False},
    ]  # fmt: skip
    console = Console(record=True, width=160)
    console.print(_status_table(readers))
    lines = console.export_text().splitlines()
    assert any("certificates" in line for line in lines[:4]), "a column of its own"
    assert "auth expired, sign valid" in next(line for line in lines if "00 00" in line)
    assert "revoked" in next(line for line in lines if "00 01" in line)
    assert "revoked" not in next(line for line in lines if "00 02" in line)
