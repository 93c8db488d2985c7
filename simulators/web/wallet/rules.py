"""The e-CPS activation rules of the ANS wallet, as plain functions over the world's state.

Without a card (guide step 2, paths G2): national id → format check → directory lookup →
one-time codes by e-mail and SMS to the contacts the directory holds → choose the e-CPS
password → "e-CPS activée". With a card (step 3, G3): the card's authentication certificate
from TLS client authentication → checks on the world clock → a code valid 90 s that the phone
scans → the code the phone shows, typed back → password → activated.

A refusal is a ``Refusal``: a screen id, the French message, and the guide's advice.
"""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NoReturn
from urllib.parse import parse_qs, urlencode, urlsplit

from simulators.web.certificates import REFUSAL_SCREENS, CertificateCheck, check_certificate
from simulators.web.national_id import check_national_id
from simulators.web.screens import Screen
from simulators.web.wording import CARD_ADVICE, SUPPORT, Refusal
from simulators.world.authorities import AuthorityState
from simulators.world.ecps import PASSWORD_DIGITS, EcpsError, valid_password
from simulators.world.outbox import Channel
from simulators.world.state import WorldState

CODE_LIFETIME = dt.timedelta(minutes=15)
"""One-time codes' validity (ANS does not publish it)."""
MAX_CODE_TRIES = 3
QR_LIFETIME = dt.timedelta(seconds=90)
"""The activation QR code of the card path is valid 90 s (ANS FAQ)."""
ORDER_SITES = {
    "21": "https://e-pop.ordre.pharmacien.fr (mise à jour visible sous 48 h)",
    "10": "https://monespace.medecin.fr (mise à jour visible sous 72 h)",
    "60": "https://espace-membres.ordre-infirmiers.fr",
}


class Step(enum.StrEnum):
    CODES = "codes"
    """Without a card: waiting for the e-mail and SMS codes."""
    SCAN = "scan"
    """With a card: waiting for the phone to scan the QR code."""
    CONFIRM = "confirm"
    """With a card: waiting for the code the phone shows."""
    PASSWORD = "password"
    DONE = "done"
    LOCKED = "locked"
    EXPIRED = "expired"


@dataclass
class Activation:
    id: str
    national_id: str
    method: str
    device: str
    expires_at: dt.datetime
    step: Step
    email_code: str = ""
    sms_code: str = ""
    qr_token: str = ""
    confirmation_code: str = ""
    tries_left: int = MAX_CODE_TRIES
    holder: str = ""


@dataclass
class WalletState:
    activations: dict[str, Activation] = field(default_factory=dict)

    def get(self, activation_id: str) -> Activation:
        found = self.activations.get(activation_id)
        if found is None:
            raise Refusal(Screen.ACTIVATION_INCONNUE, "Cette demande d'activation n'existe pas ou plus.")
        return found

    def by_qr(self, token: str) -> Activation | None:
        return next((a for a in self.activations.values() if a.qr_token and a.qr_token == token), None)

    def code_on_phone(self, device: str, now: dt.datetime) -> str:
        """The code the e-CPS app of ``device`` shows after a scan: that of its latest activation still
        waiting for it on the computer (empty when none). Kept here, not by a site, so that a scan through
        the admin API (a scenario's ``phone.scan``) shows on the phone's page too."""
        waiting = [
            a for a in self.activations.values() if a.device == device and a.step is Step.CONFIRM and a.expires_at > now
        ]
        return waiting[-1].confirmation_code if waiting else ""


def _digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


def _lock_expired(activation: Activation, now: dt.datetime) -> None:
    if activation.step not in (Step.DONE, Step.LOCKED, Step.EXPIRED) and now >= activation.expires_at:
        activation.step = Step.EXPIRED
    if activation.step is Step.EXPIRED:
        raise Refusal(
            Screen.ACTIVATION_EXPIREE,
            "Le délai est dépassé : les codes ne sont plus valables. Recommencez la demande d'activation.",
        )
    if activation.step is Step.LOCKED:
        raise Refusal(
            Screen.ACTIVATION_VERROUILLEE,
            "Trop d'essais : cette demande d'activation est verrouillée. Recommencez la demande d'activation.",
        )


def _wrong_code(activation: Activation, now: dt.datetime, advice: list[str]) -> NoReturn:
    """Spend a try; the last one locks the attempt. Always raises the refusal to show."""
    activation.tries_left -= 1
    if activation.tries_left <= 0:
        activation.step = Step.LOCKED
        _lock_expired(activation, now)
    raise Refusal(Screen.CODE_INCORRECT, f"Code incorrect. Il vous reste {activation.tries_left} essai(s).", advice)


# -- without a card (G2) -----------------------------------------------------------------------------
def start_without_card(world: WorldState, wallet: WalletState, raw_id: str, device: str) -> Activation:
    national_id = check_national_id(raw_id)
    now = world.now()
    professional = world.directory.find(national_id, now)
    if professional is None:
        raise Refusal(
            Screen.IDENTIFIANT_INCONNU,
            f"Identifiant inconnu : {national_id} ne figure pas dans l'annuaire santé.",
            ["Vérifiez votre identifiant sur annuaire.sante.fr.", "Si vous n'y figurez pas, contactez votre ARS."],
        )
    held = professional.contacts_at(now)
    contacts = (("adresse e-mail", "présente", held.email), ("numéro de mobile", "présent", held.mobile))
    missing = [(what, present) for what, present, value in contacts if not value]
    if missing:
        order_site = ORDER_SITES.get(professional.profession)
        advice = [f"Mettez à jour vos coordonnées auprès de votre ordre : {order_site}."] if order_site else []
        advice.append("Vous pouvez aussi activer votre e-CPS avec votre carte CPS et un lecteur de cartes.")
        message = (
            "Votre adresse e-mail et votre numéro de mobile ne sont pas présents dans le RPPS."
            if len(missing) == 2
            else f"Votre {missing[0][0]} n'est pas {missing[0][1]} dans le RPPS."
        )
        raise Refusal(Screen.COORDONNEES_ABSENTES, message, advice)
    activation = Activation(
        secrets.token_urlsafe(12),
        national_id,
        "sans carte",
        device,
        now + CODE_LIFETIME,
        Step.CODES,
        email_code=_digits(6),
        sms_code=_digits(6),
    )
    wallet.activations[activation.id] = activation
    assert held.email is not None and held.mobile is not None
    world.outbox.send(
        Channel.EMAIL,
        held.email,
        "Activation de votre e-CPS",
        f"Votre code d'activation e-CPS (courriel) : {activation.email_code}. Il est valable 15 minutes.",
        now,
    )
    world.outbox.send(
        Channel.SMS, held.mobile, "e-CPS", f"e-CPS : votre code d'activation (SMS) est {activation.sms_code}", now
    )
    return activation


def submit_codes(
    world: WorldState, wallet: WalletState, activation_id: str, email_code: str, sms_code: str
) -> Activation:
    activation = wallet.get(activation_id)
    _lock_expired(activation, world.now())
    if activation.step is not Step.CODES:
        raise Refusal(Screen.ETAPE_INVALIDE, "Cette étape est déjà passée.")
    if (email_code.strip(), sms_code.strip()) == (activation.email_code, activation.sms_code):
        activation.step = Step.PASSWORD
        return activation
    _wrong_code(activation, world.now(), ["Saisissez le code reçu par courriel et celui reçu par SMS."])


def choose_password(
    world: WorldState, wallet: WalletState, activation_id: str, password: str, confirmation: str
) -> Activation:
    activation = wallet.get(activation_id)
    _lock_expired(activation, world.now())
    if activation.step is not Step.PASSWORD:
        raise Refusal(Screen.ETAPE_INVALIDE, "Validez d'abord les codes d'activation.")
    if not valid_password(password):
        raise Refusal(Screen.CODE_E_CPS_INVALIDE, f"Le code e-CPS comporte {PASSWORD_DIGITS} chiffres.")
    if password != confirmation:
        raise Refusal(Screen.CODE_E_CPS_INVALIDE, "Les deux saisies du code e-CPS sont différentes.")
    try:
        world.ecps.activate(activation.national_id, activation.device, password, activation.method, world.now())
    except EcpsError as exc:
        raise Refusal(Screen.CODE_E_CPS_INVALIDE, str(exc)) from exc
    activation.step = Step.DONE
    return activation


# -- with a card (G3) --------------------------------------------------------------------------------
CARD_REFUSALS = {
    "absent": "Aucun certificat n'a été présenté : votre carte CPS n'a pas été lue.",
    "unknown-ca": "Ce certificat n'a pas été émis par l'IGC-Santé.",
    "expired": "Le certificat de votre carte CPS a expiré.",
    "not-yet-valid": "Le certificat de votre carte CPS n'est pas encore valide.",
    "revoked": "Votre carte CPS est en opposition (certificat révoqué).",
    "bad-usage": "Ce certificat n'est pas un certificat d'authentification CPS.",
}
"""The message of each refusal of the card's certificate; its screen is ``REFUSAL_SCREENS``'s, as on PSC, Test SSL."""


def start_with_card(
    world: WorldState,
    wallet: WalletState,
    certificate_der: bytes | None,
    authorities: Iterable[AuthorityState],
    device: str,
) -> tuple[Activation, CertificateCheck]:
    now = world.now()
    check = check_certificate(certificate_der, authorities, now)
    if check.status != "valid":
        advice = (
            ["Déclarez la perte ou le vol de votre carte et commandez-en une nouvelle.", SUPPORT]
            if (check.status == "revoked")
            else CARD_ADVICE
        )
        raise Refusal(REFUSAL_SCREENS[check.status], CARD_REFUSALS[check.status], advice)
    assert check.national_id is not None
    activation = Activation(
        secrets.token_urlsafe(12),
        check.national_id,
        "carte",
        device,
        now + QR_LIFETIME,
        Step.SCAN,
        qr_token=secrets.token_urlsafe(16),
        holder=f"{check.given_name} {check.surname}",
    )
    wallet.activations[activation.id] = activation
    return activation, check


# -- the QR code -------------------------------------------------------------------------------------
# What it encodes: a URL of the wallet carrying the activation's one-time token,
# ``https://wallet.esw.esante.gouv.fr[:port]/activation/qr?jeton=<token>``. The e-CPS app reads the
# token from it and sends it to the backend. No page answers that URL: it names the wallet as the QR
# code's issuer (a camera app shows where it comes from) and carries the token, nothing more.
# ``token_from_qr`` accepts the bare token too, which the page offers under "Vous ne pouvez pas
# scanner le QR code ?" for a trainer who types it on the virtual phone.
QR_PATH = "/activation/qr"
TOKEN_PARAMETER = "jeton"


def qr_payload(wallet_origin: str, token: str) -> str:
    """The text of the QR code: the wallet's URL carrying ``token``."""
    return f"{wallet_origin.rstrip('/')}{QR_PATH}?{urlencode({TOKEN_PARAMETER: token})}"


def token_from_qr(text: str) -> str:
    """The activation token a scanned text carries: the ``jeton`` of a wallet QR URL, else the text itself
    (a bare token typed by hand, or any other QR code, which the backend then does not recognise)."""
    text = text.strip()
    parts = urlsplit(text)
    if parts.scheme in ("http", "https") and parts.path == QR_PATH:
        tokens = parse_qs(parts.query).get(TOKEN_PARAMETER, [])
        if len(tokens) == 1 and tokens[0]:
            return tokens[0]
    return text


def phone_scans(world: WorldState, wallet: WalletState, token: str, device: str) -> Activation:
    """The e-CPS app scanned the QR code: it now shows a code to type on the computer."""
    activation = wallet.by_qr(token)
    if activation is None:
        raise Refusal(Screen.QR_INCONNU, "Ce QR code n'est pas reconnu.")
    _lock_expired(activation, world.now())
    if activation.step is not Step.SCAN:
        raise Refusal(Screen.ETAPE_INVALIDE, "Ce QR code a déjà été utilisé.")
    activation.device = device
    activation.confirmation_code = _digits(6)
    activation.step = Step.CONFIRM
    activation.expires_at = world.now() + CODE_LIFETIME  # the 90 s were the QR code's; the code and password follow
    return activation


def confirm_scan(world: WorldState, wallet: WalletState, activation_id: str, code: str) -> Activation:
    activation = wallet.get(activation_id)
    _lock_expired(activation, world.now())
    if activation.step is Step.SCAN:
        raise Refusal(Screen.QR_NON_SCANNE, "Scannez d'abord le QR code avec l'application e-CPS.")
    if activation.step is not Step.CONFIRM:
        raise Refusal(Screen.ETAPE_INVALIDE, "Cette étape est déjà passée.")
    if code.strip() == activation.confirmation_code:
        activation.step = Step.PASSWORD
        return activation
    _wrong_code(activation, world.now(), [])
