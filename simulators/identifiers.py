"""French health professionals' identifiers: RPPS, ADELI, national id, TRE_G15 professions.

Pure functions over strings, shared by the card, the directory and the sites.
"""

from __future__ import annotations

PROFESSIONS: dict[str, str] = {
    "10": "Médecin",
    "21": "Pharmacien",
    "26": "Audioprothésiste",
    "28": "Opticien-lunetier",
    "40": "Chirurgien-dentiste",
    "50": "Sage-femme",
    "60": "Infirmier",
    "69": "Infirmier psychiatrique",
    "70": "Masseur-kinésithérapeute",
    "80": "Pédicure-podologue",
    "86": "Technicien de laboratoire médical",
    "91": "Orthophoniste",
    "92": "Orthoptiste",
    "94": "Ergothérapeute",
    "95": "Diététicien",
    "96": "Psychomotricien",
    "98": "Manipulateur ERM",
}
"""TRE_G15 profession codes (OID 1.2.250.1.71.1.2.7) and their labels."""


def luhn_valid(digits: str) -> bool:
    """The Luhn check the RPPS number's last digit satisfies (over all 11 digits)."""
    if not (digits.isascii() and digits.isdigit()):  # '²' and '٣' are digits to str.isdigit
        return False
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def valid_rpps(rpps: str) -> bool:
    return len(rpps) == 11 and luhn_valid(rpps)


def test_rpps(serial: int) -> str:
    """An RPPS number of ANS's test range (``997`` + 7 digits of ``serial`` + the Luhn digit): as many
    distinct, valid professionals as a test needs (``test_rpps(209812 // 10)``… or 0, 1, 2…)."""
    if not 0 <= serial < 10**7:
        raise ValueError(f"serial {serial}: 0 to 9,999,999")
    prefix = f"997{serial:07d}"
    return next(prefix + d for d in "0123456789" if luhn_valid(prefix + d))


test_rpps.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test, for pytest's collector


def valid_adeli(adeli: str) -> bool:
    """9 characters, digits except the département part (2A/2B); the key's algorithm is not public."""
    return len(adeli) == 9 and adeli.isascii() and adeli.isalnum() and adeli[2:].isdigit()


def national_id(*, rpps: str | None = None, adeli: str | None = None) -> str:
    """``8`` + RPPS, or ``0`` + ADELI (the guide's rule for nurses)."""
    if (rpps is None) == (adeli is None):
        raise ValueError("give exactly one of rpps, adeli")
    if rpps is not None:
        if not valid_rpps(rpps):
            raise ValueError(f"RPPS {rpps!r}: 11 digits with a Luhn check digit expected")
        return "8" + rpps
    assert adeli is not None
    if not valid_adeli(adeli):
        raise ValueError(f"ADELI {adeli!r}: 9 characters expected")
    return "0" + adeli
