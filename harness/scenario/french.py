"""The French words of the report and the slides: what each action did, and why a request failed.

One table for everything a professional or a trainer reads about a step: ``ACTIONS`` (what each
action does, as a sentence whose subject is who acts), ``FIELDS`` (what a form field holds),
``BROWSER_ERRORS`` (Chromium's ``ERR_…`` codes), ``CURL_EXITS`` (the protocol driver's curl) and
``CARD_ANSWERS`` (what the card's status words mean). The technical line (form path, HTTP status,
faults, the raw curl/OpenSSL error) is not translated: pages fold it under "Détails techniques".

Functions here are pure: they read a step, its arguments and what the player recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

from harness.drivers.address_bar import shown_address

if TYPE_CHECKING:
    from harness.scenario.model import Step
    from harness.scenario.player import Event

Words = Callable[[Any], str]
"""The step's typed arguments (filled or as written) → the sentence."""


def _get(args: Any, name: str, default: str = "") -> str:
    if isinstance(args, Mapping):
        return str(args.get(name, default))
    return str(getattr(args, name, default) or default)


def _page(args: Any) -> str:
    site = _get(args, "site")
    return f"la page {_get(args, 'path', '/')} {SITES.get(site, f'du site {site}')}"


def _fields(args: Any) -> str:
    names = list(args) if isinstance(args, Mapping) else []
    said = [FIELDS.get(name, f"le champ « {name} »") for name in names]
    if not said:
        return "Le professionnel envoie le formulaire"
    listed = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " et " + said[-1]
    return f"Le professionnel saisit {listed} et envoie le formulaire"


UNITS = {"min": "min", "h": "h", "d": "j", "s": "s"}


def _duration(value: Any) -> str:
    """``1h30min`` → ``1 h 30 min``."""
    text = re.sub(r"(\d+)(min|h|d|s)", lambda m: f"{m[1]} {UNITS[m[2]]} ", str(value).lstrip("+"))
    return " ".join(text.split())


def _channel(args: Any) -> str:
    return "par e-mail" if "@" in _get(args, "to") else "par SMS"


SITES: dict[str, str] = {
    "wallet": "du wallet e-CPS",
    "wallet-card": "du wallet e-CPS (accès par carte)",
    "psc": "de Pro Santé Connect",
    "sidep": "du portail SI-DEP",
    "testssl": "de Test SSL",
    "push": "du téléphone",
    "admin": "d'administration du monde simulé",
}
"""A scenario's ``site:`` as a professional knows it."""

FIELDS: dict[str, str] = {
    "identifiant": "son identifiant (RPPS ou ADELI)",
    "code_courriel": "le code reçu par e-mail",
    "code_sms": "le code reçu par SMS",
    "code": "son code e-CPS",
    "confirmation": "sa confirmation",
    "mot_de_passe": "son mot de passe",
    "password": "son mot de passe",
    "ecps_password": "son code e-CPS",
    "pin": "son code porteur",
    "puk": "son code de déblocage",
    "new_pin": "un nouveau code porteur",
    "login": "son identifiant",
}
"""What a form field holds, as the professional types it."""

ACTIONS: dict[str, Words] = {
    "browser.open": lambda a: f"Le professionnel ouvre {_page(a)}",
    "browser.submit": _fields,
    "browser.follow": lambda a: f"Le professionnel clique sur « {a} »",
    "browser.back": lambda a: "Le professionnel revient à la page précédente",
    "browser.card_open": lambda a: f"Le professionnel ouvre {_page(a)} avec sa carte CPS et son code porteur",
    "browser.card_follow": lambda a: f"Le professionnel clique sur « {_get(a, 'link')} » avec sa carte CPS",
    "card.insert": lambda a: "La carte CPS du professionnel est insérée dans le lecteur",
    "card.remove": lambda a: "La carte CPS est retirée du lecteur",
    "card.fault": lambda a: "Pour la démonstration, la carte CPS est mise en défaut",
    "card.verify_pin": lambda a: "Le code porteur est saisi dans le middleware de la carte",
    "card.unblock": lambda a: "Le code porteur est débloqué avec le code de déblocage (PUK)",
    "clock.advance": lambda a: f"Le temps passe : {_duration(a)}",
    "mailbox.code": lambda a: f"Le professionnel lit le code reçu {_channel(a)}",
    "outbox.delay": lambda a: "Pour la démonstration, les messages arrivent en retard",
    "outbox.drop": lambda a: "Pour la démonstration, les messages n'arrivent pas",
    "order.update": lambda a: "Le professionnel met à jour ses coordonnées auprès de son ordre",
    "sidep.account": lambda a: "Le CIS ou le support SI-DEP crée le compte SI-DEP du professionnel",
    "ars.validate": lambda a: "L'ARS valide le compte SI-DEP",
    "phone.scan": lambda a: "Le professionnel scanne le QR code avec l'application e-CPS de son téléphone",
    "phone.type_code": lambda a: "Le professionnel saisit sur l'ordinateur le code affiché par son téléphone",
    "phone.approve": lambda a: "Sur son téléphone, le professionnel accepte la demande avec son code e-CPS",
    "phone.refuse": lambda a: "Sur son téléphone, le professionnel refuse la demande",
    "phone.ignore": lambda a: "Le professionnel laisse la demande sans réponse sur son téléphone",
    "psc.fault": lambda a: "Pour la démonstration, Pro Santé Connect est mis en défaut",
    "testssl.tls_max": lambda a: f"Test SSL n'accepte TLS que jusqu'à la version {a}",
    "diagnose.run": lambda a: "Le professionnel lance le diagnostic ATSAM de sa carte",
}
"""What each action did, as one French sentence (an action missing here says its actor and its name)."""

BROWSER_ERRORS: dict[str, tuple[str, str]] = {
    "ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED": ("La connexion sécurisée a échoué", "la carte n'a pas pu signer"),
    "ERR_SSL_CLIENT_AUTH_NO_COMMON_ALGORITHMS": (
        "La connexion sécurisée a échoué",
        "la carte et le site n'ont aucun algorithme de signature en commun (TLS 1.3)",
    ),
    "ERR_BAD_SSL_CLIENT_AUTH_CERT": ("La connexion sécurisée a échoué", "le site a refusé le certificat de la carte"),
    "ERR_SSL_CLIENT_AUTH_CERT_NEEDED": (
        "La connexion sécurisée a échoué",
        "aucun certificat de carte n'a été présenté",
    ),
    "ERR_SSL_PROTOCOL_ERROR": ("La connexion sécurisée a échoué", "erreur de protocole"),
    "ERR_SSL_VERSION_OR_CIPHER_MISMATCH": ("La connexion sécurisée a échoué", "version de TLS non prise en charge"),
    "ERR_CERT_AUTHORITY_INVALID": ("La connexion n'est pas privée", "le certificat du site n'est pas reconnu"),
    "ERR_CONNECTION_CLOSED": ("La connexion a été interrompue", ""),
    "ERR_CONNECTION_RESET": ("La connexion a été interrompue", ""),
    "ERR_CONNECTION_REFUSED": ("Le site ne répond pas", ""),
    "ERR_NAME_NOT_RESOLVED": ("L'adresse du site est introuvable", ""),
    "ERR_TIMED_OUT": ("Le site n'a pas répondu à temps", ""),
    "ERR_ABORTED": ("Le chargement de la page a été interrompu", ""),
}
"""Chromium's error codes: (what the professional is told, the cause when the code says it)."""

CURL_EXITS: dict[int, tuple[str, str]] = {
    7: ("Le site ne répond pas", ""),
    28: ("Le site n'a pas répondu à temps", ""),
    35: ("La connexion sécurisée a échoué", ""),
    56: ("La connexion a été interrompue", ""),
    58: ("La connexion sécurisée a échoué", "le certificat de la carte n'a pas pu être utilisé"),
    60: ("La connexion n'est pas privée", "le certificat du site n'est pas reconnu"),
}
"""The protocol driver's curl exit codes, in the same words as Chromium's errors."""

CARD_ANSWERS: dict[str, str] = {
    "INTERNAL AUTHENTICATE": "la carte n'a pas pu signer",
    "VERIFY ref 01 63C": "la carte a refusé le code porteur (il reste {n} essai(s))",
    "VERIFY ref 01 6983": "le code porteur est bloqué",
    "VERIFY ref 02 63C": "la carte a refusé le code de déblocage (il reste {n} essai(s))",
    "VERIFY ref 02 6983": "le code de déblocage est épuisé : la carte est définitivement bloquée",
}
"""What the card's refusals mean, read from its APDU log (``VERIFY ref 01 -> 63C2``)."""

_APDU = re.compile(r"(INTERNAL AUTHENTICATE|VERIFY ref 0[12])\b.*?->\s*([0-9A-F]{4})")
_ERR = re.compile(r"\b(ERR_[A-Z0-9_]+)\b")
_CURL = re.compile(r"curl exit (\d+)")


def action_words(action: str, args: Any, actor: str = "") -> str:
    """What the step did, in French (an unknown action: its actor and its name)."""
    words = ACTIONS.get(action)
    if words is None:
        return f"{actor} : {action}" if actor else action
    try:
        return words(args)
    except (TypeError, ValueError, AttributeError):  # arguments of an unexpected shape: the plain words
        return f"{actor} : {action}" if actor else action


def card_refusal(apdus: list[str]) -> str:
    """Why the card said no during the step (its last refusal), or ``""``."""
    said = ""
    for line in apdus:
        match = _APDU.search(line)
        if match is None or "(status)" in line:  # a VERIFY without data only asks for the tries left
            continue
        command, status = match.groups()
        if command == "INTERNAL AUTHENTICATE":
            said = said if status == "9000" or status.startswith("61") else CARD_ANSWERS[command]
        elif status.startswith("63C"):
            said = CARD_ANSWERS[f"{command} 63C"].format(n=int(status[3], 16))
        elif status == "6983":
            said = CARD_ANSWERS[f"{command} 6983"]
    return said


def request_failure(client_error: str, apdus: list[str]) -> str:
    """A failed request (an expected failure included) in French, from its cause, the code at the end:
    ``La connexion sécurisée a échoué : la carte n'a pas pu signer (ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED)``."""
    code = ""
    head, cause = "La demande a échoué", ""
    if (err := _ERR.search(client_error)) is not None:
        code = err.group(1)
        head, cause = BROWSER_ERRORS.get(code, ("La page n'a pas pu être affichée", ""))
    elif (curl := _CURL.search(client_error)) is not None:
        head, cause = CURL_EXITS.get(int(curl.group(1)), ("La connexion a échoué", ""))
    cause = card_refusal(apdus) or cause
    sentence = f"{head} : {cause}" if cause else head
    return f"{sentence} ({code})" if code else sentence


class _Heading(HTMLParser):
    """The page's first ``<h1>``, else its ``<title>``: what a professional reads first."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.h1: list[str] = []
        self.title: list[str] = []
        self._in: str | None = None
        self._done_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h1", "title") and not (tag == "h1" and self._done_h1):
            self._in = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._done_h1 = self._done_h1 or tag == "h1"
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "h1":
            self.h1.append(data)
        elif self._in == "title":
            self.title.append(data)


def page_heading(html: str) -> str:
    parser = _Heading()
    parser.feed(html)
    parser.close()
    return " ".join(" ".join(parser.h1 or parser.title).split())


def page_address(url: str) -> str:
    """The address as the professional's address bar shows it (no loopback port)."""
    host, rest = shown_address(url)
    return host + rest if host else ""


def story(
    action: str, args: Any, actor: str, *, on_screen: bool, ok: bool, client_error: str, apdus: list[str],
    snapshot: str,
) -> str:  # fmt: skip
    """The step in one French sentence: what was done, then what came of it
    (``Le professionnel saisit son identifiant… — la page répond : Activation impossible``)."""
    said = action_words(action, args, actor)
    if client_error:
        failure = request_failure(client_error, apdus)
        return f"{said} — {failure[0].lower()}{failure[1:]}"
    refusal = card_refusal(apdus)
    if refusal:
        return f"{said} — {refusal}"
    if on_screen and snapshot and ok:
        heading = page_heading(snapshot)
        if heading:
            return f"{said} — la page répond : {heading}"
    return said


def step_story(step: Step, event: Event) -> str:
    """``story`` of a played step."""
    entry = step.entry
    return story(
        step.action, step.args, entry.actor.french, on_screen=entry.actor.on_screen, ok=event.ok,
        client_error=event.client_error, apdus=event.apdus, snapshot=event.snapshot,
    )  # fmt: skip
