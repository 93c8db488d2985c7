"""RPPS, ADELI and national ids: the identifiers the card, the directory and the sites share."""

from __future__ import annotations

import pytest

from simulators import identifiers

ALAIN_RPPS = "99700209812"
"""The guide's example doctor (Test SSL screen: 899700209812)."""


def test_the_guides_rpps_passes_the_luhn_check_and_one_digit_off_does_not() -> None:
    assert identifiers.luhn_valid(ALAIN_RPPS)
    assert not identifiers.luhn_valid(ALAIN_RPPS[:-1] + "3")
    assert not identifiers.luhn_valid("99700209821"), "two digits swapped"


@pytest.mark.parametrize("rpps", ["9970020981", "997002098120", "9970020981A", "", "997002098١٢"])
def test_an_rpps_is_eleven_ascii_digits(rpps: str) -> None:
    assert not identifiers.valid_rpps(rpps)


@pytest.mark.parametrize(("adeli", "valid"), [("751234567", True), ("2A1234567", True), ("75123456", False),
                                              ("7512345X7", False), ("75123456²", False)])  # fmt: skip
def test_an_adeli_is_nine_characters_digits_but_the_corsican_department(adeli: str, valid: bool) -> None:
    assert identifiers.valid_adeli(adeli) is valid


def test_a_national_id_is_8_and_the_rpps_or_0_and_the_adeli() -> None:
    assert identifiers.national_id(rpps=ALAIN_RPPS) == "899700209812"
    assert identifiers.national_id(adeli="751234567") == "0751234567"


@pytest.mark.parametrize(
    ("given", "reason"),
    [({}, "exactly one"), ({"rpps": ALAIN_RPPS, "adeli": "751234567"}, "exactly one"),
     ({"rpps": "99700209813"}, "Luhn"), ({"adeli": "1"}, "9 characters")],
)  # fmt: skip
def test_a_wrong_identifier_says_why(given: dict[str, str], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        identifiers.national_id(**given)


def test_professions_carry_their_tre_g15_labels() -> None:
    assert (identifiers.PROFESSIONS["10"], identifiers.PROFESSIONS["21"], identifiers.PROFESSIONS["60"]) == (
        "Médecin", "Pharmacien", "Infirmier",
    )  # fmt: skip


def test_test_rpps_numbers_are_valid_distinct_and_in_the_test_range() -> None:
    from simulators.identifiers import test_rpps, valid_rpps

    numbers = [test_rpps(n) for n in (0, 1, 4242, 9_999_999)]
    assert all(valid_rpps(n) and n.startswith("997") for n in numbers) and len(set(numbers)) == 4
    assert test_rpps(4242) == "99700042429"  # 997 + 0004242 + its Luhn digit
    for wrong in (-1, 10**7):
        with pytest.raises(ValueError, match="serial"):
            test_rpps(wrong)
