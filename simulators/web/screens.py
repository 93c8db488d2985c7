"""The catalogue of screens: every ``data-screen`` id a simulated site can show, in one place.

Scenarios check the screen a step reached by its id (``expect: {screen: certificat-revoque}``),
so an id is an interface: written once here, used by the sites as ``Screen.CERTIFICAT_REVOQUE``
(``page()`` and the refusals take a ``Screen``, not a string), checked by ``cps-harness check``
and listed in ``docs/reference/screens.md``. Ids are French, like the pages; one situation has
one id whichever site shows it (the wallet, PSC and Test SSL all say ``certificat-revoque``).

Each entry says which sites show it and in which situation (English, for the docs). A few
refusal ids reach no page (``sites`` empty): the rules raise them like any refusal, but the site
that meets them answers otherwise; they are listed so that the rules still name them once.
"""

from __future__ import annotations

import enum
from typing import Literal

Site = Literal["wallet", "psc", "sidep", "testssl", "push", "admin"]
"""The application that serves a page (``SITES`` says which)."""
SITES: dict[Site, str] = {
    "wallet": "the e-CPS wallet (`wallet.esw.esante.gouv.fr`), its card port included",
    "psc": "Pro Santé Connect: its login pages, served on the wallet's host under `/auth` as in production, and "
    "its logout page",
    "sidep": "the SI-DEP portal (`portail-sidep.aphp.fr`)",
    "testssl": "ATSAM's Test SSL page (`testssl.asipsante.fr`)",
    "push": "the virtual phone (`push.esw.esante.gouv.fr/telephone/<device>`)",
    "admin": "the back office of a world (its admin API's HTML pages)",
}
"""Each site's name in the catalogue, and what it is (for the docs)."""

CARD_SITES: tuple[Site, ...] = ("wallet", "psc", "testssl")
"""The sites that judge a card's certificate (``certificates.check_certificate``) and say why they refuse it."""


@enum.unique
class Screen(enum.StrEnum):
    """A screen id (the string itself), the sites that show it and the situation it stands for."""

    _value_: str
    sites: tuple[Site, ...]
    situation: str

    def __new__(cls, value: str, sites: tuple[Site, ...], situation: str) -> Screen:
        screen = str.__new__(cls, value)
        screen._value_ = value
        screen.sites = sites
        screen.situation = situation
        return screen

    # -- e-CPS activation without a card (the wallet) -----------------------------------------------
    ACCUEIL = "accueil", ("wallet",), "the wallet's home: activate an e-CPS without or with the card"
    SAISIE_IDENTIFIANT = (
        "saisie-identifiant",
        ("wallet",),
        "activation without a card: the form asking for the national id",
    )
    IDENTIFIANT_INVALIDE = (
        "identifiant-invalide",
        ("wallet", "psc"),
        "the national id typed is malformed: empty, wrong length, wrong RPPS key, or starting with neither 8 nor 0 "
        "(activation without a card, or PSC's e-CPS login)",
    )
    IDENTIFIANT_INCONNU = (
        "identifiant-inconnu",
        ("wallet",),
        "the national id is not in the health directory (annuaire santé)",
    )
    COORDONNEES_ABSENTES = (
        "coordonnees-absentes",
        ("wallet",),
        "the directory holds no e-mail or no mobile for the professional, so no code can be sent; the advice names "
        "the order's site where they update it",
    )
    SAISIE_CODES = (
        "saisie-codes",
        ("wallet",),
        "the codes were sent by e-mail and SMS: the form for both",
    )
    CODE_INCORRECT = (
        "code-incorrect",
        ("wallet",),
        "a wrong code (the e-mail and SMS codes, or the code the phone shows), with the tries left",
    )
    ACTIVATION_EXPIREE = (
        "activation-expiree",
        ("wallet",),
        "the activation outlived its codes (15 minutes) or its QR code (90 seconds): start again",
    )
    ACTIVATION_VERROUILLEE = (
        "activation-verrouillee",
        ("wallet",),
        "the last try was a wrong code: the activation is locked, start again",
    )
    ETAPE_INVALIDE = (
        "etape-invalide",
        ("wallet",),
        "a form posted out of order: codes already validated, a password before the codes, a QR code used twice",
    )
    CHOIX_CODE_E_CPS = (
        "choix-code-e-cps",
        ("wallet",),
        "the codes (or the phone's code) were right: choose the e-CPS password, typed twice",
    )
    CODE_E_CPS_INVALIDE = (
        "code-e-cps-invalide",
        ("wallet",),
        "the e-CPS password is not 4 digits, its two entries differ, or the e-CPS registry refused it",
    )
    E_CPS_ACTIVEE = "e-cps-activee", ("wallet",), "the e-CPS is activated for the national id"

    # -- e-CPS activation with the card (the wallet's card port) -------------------------------------
    QR_ACTIVATION = (
        "qr-activation",
        ("wallet",),
        "the card's certificate was accepted: the QR code to scan with the e-CPS app, and the form for the code "
        "the phone then shows",
    )
    QR_NON_SCANNE = (
        "qr-non-scanne",
        ("wallet",),
        "a code was typed before the phone scanned the QR code",
    )

    # -- the card's certificate refused (wallet, PSC, Test SSL) --------------------------------------
    AUCUN_CERTIFICAT = (
        "aucun-certificat",
        CARD_SITES,
        "no certificate was presented: no card in the reader, no middleware, or a PKCS#1-only client under TLS 1.3",
    )
    AUTORITE_INCONNUE = (
        "autorite-inconnue",
        CARD_SITES,
        "the certificate was not issued by an IGC-Santé CA the site knows (the TLS handshake refuses most such "
        "certificates first)",
    )
    CERTIFICAT_EXPIRE = "certificat-expire", CARD_SITES, "the card's certificate has expired (on the world clock)"
    CERTIFICAT_PAS_ENCORE_VALIDE = (
        "certificat-pas-encore-valide",
        CARD_SITES,
        "the card's certificate is not valid yet (on the world clock)",
    )
    CERTIFICAT_REVOQUE = (
        "certificat-revoque",
        CARD_SITES,
        "the card is in opposition: its certificate is on the CRL",
    )
    CERTIFICAT_INADAPTE = (
        "certificat-inadapte",
        CARD_SITES,
        "the certificate is not an authentication certificate (no digital signature usage); PSC says it too of a "
        "certificate that names no national id",
    )

    # -- ATSAM's Test SSL ---------------------------------------------------------------------------
    INFORMATION_CARTE_CPS = (
        "information-carte-cps",
        ("testssl",),
        "the card's certificate passed: issuer, holder, serial, dates and Vérification SUCCESS",
    )

    # -- Pro Santé Connect's login pages -------------------------------------------------------------
    CHOIX_MOYEN = (
        "choix-moyen",
        ("psc",),
        "a relying party sent the professional to PSC: log in with the e-CPS app (national id) or the CPS card",
    )
    ATTENTE_TELEPHONE = (
        "attente-telephone",
        ("psc",),
        "a push was sent to the phone: the page reloads until it is approved, refused or expired",
    )
    AUCUNE_E_CPS = "aucune-e-cps", ("psc",), "e-CPS login: no e-CPS is activated for the national id"
    E_CPS_BLOQUEE = (
        "e-cps-bloquee",
        ("psc",),
        "e-CPS login: the e-CPS is locked (too many wrong passwords); reactivate it",
    )
    RETOUR_APPLICATION = (
        "retour-application",
        ("psc",),
        "response_mode=form_post: the page that posts the code, or the error, back to the relying party",
    )
    REQUETE_INVALIDE = (
        "requete-invalide",
        ("psc", "sidep"),
        "PSC: the authorization request names an unknown client or redirect_uri, so it cannot redirect back; "
        "SI-DEP: PSC's answer has no code or the wrong state",
    )
    DECONNEXION = (
        "deconnexion",
        ("psc",),
        "PSC's logout without a post_logout_redirect_uri: the session is closed",
    )

    # -- SI-DEP -------------------------------------------------------------------------------------
    ACCUEIL_SIDEP = (
        "accueil-sidep",
        ("sidep",),
        "SI-DEP's login page: e-CPS or CPS card through PSC, or a login and password (degraded mode)",
    )
    CONNECTE = "connecte", ("sidep",), "logged in to SI-DEP: the professional's name and identifier"
    IDENTIFIANTS_INCORRECTS = (
        "identifiants-incorrects",
        ("sidep",),
        "degraded mode: unknown login or wrong password",
    )
    COMPTE_VERROUILLE = (
        "compte-verrouille",
        ("sidep",),
        "degraded mode: the account is locked after 5 wrong passwords",
    )
    COMPTE_EN_ATTENTE = (
        "compte-en-attente",
        ("sidep",),
        "degraded mode: a salaried professional's account awaits the ARS's validation",
    )
    ECHEC_PSC = (
        "echec-psc",
        ("sidep",),
        "PSC sent an error back (push refused or expired, e-CPS locked…) or the token exchange failed",
    )
    JETON_INVALIDE = (
        "jeton-invalide",
        ("sidep",),
        "PSC's id_token fails SI-DEP's checks: signature, issuer, audience, nonce, expiry or acr",
    )
    PSC_INDISPONIBLE = "psc-indisponible", ("sidep",), "PSC's discovery document does not answer"

    # -- the phone and the back office ---------------------------------------------------------------
    TELEPHONE = (
        "telephone",
        ("push",),
        "the virtual phone: its e-CPS, the pending push requests, the QR code scanner and the code to type",
    )
    BOITE_RECEPTION = (
        "boite-reception",
        ("admin",),
        "a trainer's view of the e-mails or SMS a mailbox received",
    )

    # -- refusals no page shows ----------------------------------------------------------------------
    ACTIVATION_INCONNUE = (
        "activation-inconnue",
        (),
        "the wallet holds no activation of that id; its pages answer a plain-text 404",
    )
    QR_INCONNU = (
        "qr-inconnu",
        (),
        "the phone scanned a QR code no activation holds; the phone's API answers the id as its error "
        "(`expect.error`), its page shows only the message",
    )


SHOWN: tuple[Screen, ...] = tuple(screen for screen in Screen if screen.sites)
"""The screens some page carries: what a scenario can expect."""
