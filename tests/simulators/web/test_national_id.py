"""``simulators.web.national_id.check_national_id``: the national id a professional types on an ANS page.

The guide's rule: the RPPS number (11 digits, the last a Luhn key) preceded by 8, or, for nurses,
the ADELI number (9 characters) preceded by 0. Covered: normalisation (spaces, case), the empty
field, each malformed shape and the words that say what is wrong, and input made of Unicode
look-alike digits (which must be refused, not crash the page or yield a non-ASCII id).
"""

from __future__ import annotations

import pytest

from simulators.web.national_id import check_national_id
from simulators.web.wording import Refusal

DOCTOR_ID = "899700209812"
"""The guide's doctor: RPPS 99700209812 (its Luhn sum is 50), preceded by 8."""
NURSE_ID = "0756012345"
"""An ADELI number (75 Paris, 6012345) preceded by 0."""


def refusal_for(raw: str) -> Refusal:
    with pytest.raises(Refusal) as caught:
        check_national_id(raw)
    return caught.value


def test_a_well_formed_rpps_id_is_returned_unchanged() -> None:
    assert check_national_id(DOCTOR_ID) == DOCTOR_ID


def test_a_well_formed_adeli_id_is_returned_unchanged() -> None:
    assert check_national_id(NURSE_ID) == NURSE_ID


def test_spaces_tabs_and_newlines_typed_in_the_id_are_removed() -> None:
    assert check_national_id("  8 9970 0209\t812 \n") == DOCTOR_ID


def test_a_non_breaking_space_pasted_in_the_id_is_removed() -> None:
    assert check_national_id("8\u00a099700209812") == DOCTOR_ID


def test_a_corsican_adeli_number_is_accepted_and_upper_cased() -> None:
    assert check_national_id("02a0012345") == "02A0012345"


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_an_empty_field_asks_for_the_id(raw: str) -> None:
    refusal = refusal_for(raw)
    assert refusal.screen == "identifiant-invalide"
    assert refusal.message == "Saisissez votre identifiant national."
    assert refusal.advice == ()


@pytest.mark.parametrize(("raw", "typed"), [("89970020981", 11), ("8997002098120", 13), ("8", 1)])
def test_an_rpps_id_of_the_wrong_length_says_twelve_digits_and_how_many_were_typed(raw: str, typed: int) -> None:
    refusal = refusal_for(raw)
    assert refusal.screen == "identifiant-invalide"
    assert "12 chiffres" in refusal.message
    assert f"({typed} saisis)" in refusal.message


def test_the_length_counted_in_the_message_ignores_the_spaces_typed() -> None:
    assert "(11 saisis)" in refusal_for("8 9970 0209 81").message


def test_an_rpps_id_with_a_letter_is_refused_as_malformed() -> None:
    refusal = refusal_for("89970020981A")
    assert refusal.screen == "identifiant-invalide"
    assert "RPPS" in refusal.message and "chiffres" in refusal.message


@pytest.mark.parametrize("raw", ["899700209813", "899700209821", "899700209802"])
def test_an_rpps_number_whose_luhn_key_does_not_match_is_refused(raw: str) -> None:
    refusal = refusal_for(raw)
    assert refusal.screen == "identifiant-invalide"
    assert refusal.message == "Ce numéro RPPS n'est pas valide (clé de contrôle)."


@pytest.mark.parametrize(("raw", "typed"), [("075601234", 9), ("07560123456", 11)])
def test_an_adeli_id_of_the_wrong_length_says_ten_characters_and_how_many_were_typed(raw: str, typed: int) -> None:
    refusal = refusal_for(raw)
    assert refusal.screen == "identifiant-invalide"
    assert "ADELI" in refusal.message and "10 caractères" in refusal.message
    assert f"({typed} saisis)" in refusal.message


def test_an_adeli_number_with_a_letter_after_the_departement_is_refused() -> None:
    refusal = refusal_for("0756A12345")
    assert refusal.screen == "identifiant-invalide"
    assert "ADELI" in refusal.message


@pytest.mark.parametrize("raw", ["199700209812", "99700209812", "A99700209812", "D0000020981"])
def test_an_id_not_starting_with_8_or_0_is_refused_with_the_rule(raw: str) -> None:
    refusal = refusal_for(raw)
    assert refusal.screen == "identifiant-invalide"
    assert refusal.message == "L'identifiant national commence par 8 (RPPS) ou 0 (ADELI)."


@pytest.mark.parametrize("raw", ["89970020981", "899700209813", "075601234", "199700209812"])
def test_every_malformed_id_is_followed_by_the_guides_hint(raw: str) -> None:
    (hint,) = refusal_for(raw).advice
    assert "numéro RPPS précédé du chiffre 8" in hint
    assert "numéro ADELI précédé du chiffre 0" in hint


def test_an_rpps_id_ending_with_a_superscript_digit_is_refused_not_a_crash() -> None:
    """'²'.isdigit() is true but int('²') fails: the page must refuse the id, not answer 500."""
    refusal = refusal_for("89970020981²")
    assert refusal.screen == "identifiant-invalide"


@pytest.mark.parametrize(
    "raw",
    [
        "8٩٩٧٠٠٢٠٩٨١٢",  # RPPS 99700209812 in Arabic-Indic digits
        "8９９７００２０９８１２",  # in full-width digits, as some phone keyboards type them
        "075²012345",  # ADELI with a superscript two
    ],
)
def test_look_alike_digits_never_yield_a_non_ascii_national_id(raw: str) -> None:
    """Either the id is refused, or it is normalised to the ASCII digits the directory is keyed by."""
    try:
        value = check_national_id(raw)
    except Refusal as refusal:
        assert refusal.screen == "identifiant-invalide"
    else:
        assert value.isascii(), f"{raw!r} was accepted as the national id {value!r}"
