"""The console's French words for what the harness names in English: actions, browser errors, verdicts.

The action table (``harness/scenario/actions``) describes each action in English for developers; a
trainer's audience reads French, in the guide's words. A step's own ``say:`` text comes first; these
are what the console shows when a step has none. Every action has an entry (a test checks it), so a
new action without French words is noticed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from harness.scenario.actions import ACTIONS

SUMMARIES: dict[str, str] = {
    "browser.open": "Le navigateur ouvre la page.",
    "browser.submit": "Le professionnel remplit le formulaire de la page et l'envoie.",
    "browser.follow": "Le professionnel clique sur le lien.",
    "browser.back": "Le professionnel revient à la page précédente.",
    "browser.card_open": "Le navigateur ouvre la page en s'authentifiant avec la carte CPS (code porteur).",
    "browser.card_follow": "Le professionnel clique sur le lien ; le navigateur s'authentifie avec la carte CPS.",
    "phone.approve": "Sur son téléphone, le professionnel accepte la notification avec son mot de passe e-CPS.",
    "phone.refuse": "Sur son téléphone, le professionnel refuse la notification.",
    "phone.ignore": "Le professionnel ignore la notification : elle expire.",
    "phone.scan": "Le téléphone scanne le QR code affiché à l'écran.",
    "phone.type_code": "Le professionnel saisit sur l'ordinateur le code affiché par le téléphone.",
    "mailbox.code": "Le professionnel lit le code à 6 chiffres reçu par courriel ou SMS.",
    "outbox.drop": "Les messages (courriel ou SMS) n'arrivent jamais.",
    "outbox.delay": "Les messages arrivent en retard.",
    "clock.advance": "Le temps passe.",
    "order.update": "Le professionnel met à jour ses coordonnées auprès de son ordre.",
    "sidep.account": "Le CIS (libéral) ou le support SI-DEP (salarié) crée le compte SI-DEP.",
    "ars.validate": "L'ARS valide le compte du salarié.",
    "card.insert": "Le professionnel insère sa carte CPS dans le lecteur.",
    "card.remove": "Le professionnel retire sa carte CPS du lecteur.",
    "card.verify_pin": "Le code porteur est saisi dans le logiciel de la carte (middleware).",
    "card.unblock": "La carte est débloquée avec le code de déblocage.",
    "card.fault": "Pour la démonstration, la carte se comporte mal.",
    "psc.fault": "Pour la démonstration, Pro Santé Connect rencontre une panne.",
    "testssl.tls_max": "Le Test SSL change la version de TLS qu'il accepte.",
    "diagnose.run": "L'outil de diagnostic ATSAM vérifie la carte, puis effectue un Test SSL.",
}
"""Action name → what it does, said to professionals."""

BROWSER_ERRORS: dict[str, str] = {
    "ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED": "la carte CPS n'a pas pu effectuer l'opération de signature : "
    "la connexion sécurisée (TLS) a échoué",
    "ERR_SSL_CLIENT_AUTH_NO_COMMON_ALGORITHMS": "le site exige TLS 1.3, qui demande une signature RSA-PSS que "
    "la carte CPS ne sait pas faire : la connexion sécurisée a échoué",
    "ERR_BAD_SSL_CLIENT_AUTH_CERT": "le site a refusé le certificat de la carte CPS",
    "ERR_SSL_PROTOCOL_ERROR": "la connexion sécurisée (TLS) a échoué",
    "ERR_SSL_VERSION_OR_CIPHER_MISMATCH": "le navigateur et le site n'ont aucune version de TLS en commun",
    "ERR_CONNECTION_REFUSED": "le site ne répond pas (connexion refusée)",
    "ERR_CONNECTION_RESET": "la connexion a été interrompue",
    "ERR_CONNECTION_CLOSED": "la connexion a été fermée",
    "ERR_NAME_NOT_RESOLVED": "l'adresse du site est introuvable",
    "ERR_TIMED_OUT": "le site n'a pas répondu à temps",
    "ERR_CERT_AUTHORITY_INVALID": "le certificat du site n'est pas reconnu",
}
"""Chromium's error codes (``net::ERR_…``) → what the professional faces, in French."""
ERROR_CODE = re.compile(r"ERR_[A-Z0-9_]+")


def summary(action: str) -> str:
    """What an action does, in French (its English summary if a new action has no French words yet)."""
    return SUMMARIES.get(action) or ACTIONS[action].summary


def card_refused_to_sign(apdus: Iterable[str]) -> str | None:
    """The status word the card answered a signature with, when it was not a success."""
    for line in apdus:
        if "INTERNAL AUTHENTICATE -> " in line and "-> 9000" not in line:
            return line.split("INTERNAL AUTHENTICATE -> ", 1)[1].split()[0]
    return None


def card_refused_pin(apdus: Iterable[str]) -> str | None:
    """The status word the card answered a PIN with, when it refused it (a VERIFY with data: 63Cx, 6983)."""
    for line in apdus:
        if "VERIFY ref" in line and "(status)" not in line and ("-> 63C" in line or "-> 6983" in line):
            return line.split("-> ", 1)[1].split()[0]
    return None


def browser_error(reason: str, apdus: Iterable[str] = ()) -> str:
    """Why the browser shows an error instead of a page, in French; the technical reason kept after it.

    Chromium names the cause (``ERR_…``); the protocol driver's curl only says that TLS failed, so
    the card's own answer during the step (``apdus``) tells a failed signature apart."""
    code = ERROR_CODE.search(reason)
    refused = card_refused_to_sign(apdus)
    if code is None and refused is not None:
        return (
            "Le navigateur affiche une erreur au lieu de la page : la carte CPS n'a pas pu effectuer l'opération "
            f"de signature (elle a répondu {refused}) : la connexion sécurisée (TLS) a échoué ({reason})."
        )
    if code is not None:
        words = BROWSER_ERRORS.get(code.group(0), "le navigateur n'a pas pu ouvrir la page")
        return f"Le navigateur affiche une erreur au lieu de la page : {words} ({code.group(0)})."
    pin = card_refused_pin(apdus)
    if "refused the PIN" in reason or (code is None and pin is not None):
        tries = f", {int(pin[3], 16)} essai(s) restant(s)" if pin and pin.startswith("63C") else ""
        return f"La carte CPS a refusé le code porteur ({pin or 'code faux'}{tries}) : la connexion a échoué."
    if reason.startswith("curl exit"):
        return f"La connexion sécurisée (TLS) au site a échoué ({reason})."
    return f"Le navigateur n'a pas pu ouvrir la page ({reason})."
