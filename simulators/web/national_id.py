"""The national id a professional types on an ANS login page (wallet activation, PSC e-CPS login).

Normalised, or refused with exactly what is wrong with it, in the guide's words.
"""

from __future__ import annotations

from simulators import identifiers
from simulators.web.screens import Screen
from simulators.web.wording import Refusal


def check_national_id(raw: str) -> str:
    """The national id, normalised, or a Refusal that says exactly what is wrong with it."""
    value = "".join(raw.split()).upper()
    if not value:
        raise Refusal(Screen.IDENTIFIANT_INVALIDE, "Saisissez votre identifiant national.")
    hint = "numéro RPPS précédé du chiffre 8, ou, pour les infirmiers, numéro ADELI précédé du chiffre 0"
    if value[0] == "8":
        rpps = value[1:]
        if len(rpps) != 11 or not (rpps.isascii() and rpps.isdigit()):
            raise Refusal(
                Screen.IDENTIFIANT_INVALIDE,
                f"Un identifiant RPPS compte 12 chiffres : 8 suivi des 11 chiffres du RPPS ({len(value)} saisis).",
                [hint],
            )
        if not identifiers.luhn_valid(rpps):
            raise Refusal(Screen.IDENTIFIANT_INVALIDE, "Ce numéro RPPS n'est pas valide (clé de contrôle).", [hint])
        return value
    if value[0] == "0":
        if not identifiers.valid_adeli(value[1:]):
            raise Refusal(
                Screen.IDENTIFIANT_INVALIDE,
                f"Un identifiant ADELI compte 10 caractères : 0 suivi des 9 caractères ADELI ({len(value)} saisis).",
                [hint],
            )
        return value
    raise Refusal(Screen.IDENTIFIANT_INVALIDE, "L'identifiant national commence par 8 (RPPS) ou 0 (ADELI).", [hint])
