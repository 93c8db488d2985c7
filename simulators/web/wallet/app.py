"""The ANS wallet site (``wallet.esw.esante.gouv.fr``): e-CPS activation screens.

One application serves two ports of the world: the plain TLS port (home, activation without a
card) and the card port, whose TLS asks for a client certificate (``/carte``). Every refusal is
a page with its screen id and the guide's advice; malformed input is a 4xx, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiohttp import web

from simulators.web import page as p
from simulators.web.certificates import peer_certificate
from simulators.web.forms import MAX_FORM, form_fields
from simulators.web.national_id import check_national_id
from simulators.web.screens import Screen
from simulators.web.wallet.rules import (
    QR_LIFETIME,
    Activation,
    Step,
    WalletState,
    choose_password,
    confirm_scan,
    start_with_card,
    start_without_card,
    submit_codes,
)
from simulators.web.wording import Refusal
from simulators.world.authorities import AuthorityState
from simulators.world.state import DEFAULT_DEVICE, WorldState

SITE = "Pro Santé Connect — e-CPS"
WORLD_KEY = web.AppKey("world", WorldState)
WALLET_KEY = web.AppKey("wallet", WalletState)
AUTHORITIES_KEY: web.AppKey[Callable[[], Iterable[AuthorityState]]] = web.AppKey("authorities")
CARD_URL_KEY: web.AppKey[Callable[[], str]] = web.AppKey("card_url")

STATUS_BY_SCREEN = {
    Screen.IDENTIFIANT_INVALIDE: 400,
    Screen.CODE_E_CPS_INVALIDE: 400,
    Screen.IDENTIFIANT_INCONNU: 404,
    Screen.ACTIVATION_INCONNUE: 404,
    Screen.QR_INCONNU: 404,
    Screen.AUCUN_CERTIFICAT: 403,
    Screen.AUTORITE_INCONNUE: 403,
    Screen.CERTIFICAT_EXPIRE: 403,
    Screen.CERTIFICAT_PAS_ENCORE_VALIDE: 403,
    Screen.CERTIFICAT_REVOQUE: 403,
    Screen.CERTIFICAT_INADAPTE: 403,
    Screen.CODE_INCORRECT: 422,
}


def refusal_page(refusal: Refusal) -> web.Response:
    body = p.paragraph(refusal.message, "error") + (p.advice(refusal.advice) if refusal.advice else "")
    body += p.link("/", "Retour à l'accueil")
    return p.page(
        refusal.screen, "Activation impossible", body, site=SITE, status=STATUS_BY_SCREEN.get(refusal.screen, 409)
    )


def _device(request: web.Request) -> str:
    device = request.query.get("appareil", DEFAULT_DEVICE)
    if not device.replace("-", "").isalnum() or len(device) > 64:
        raise web.HTTPBadRequest(text="paramètre appareil invalide")
    return device


async def home(request: web.Request) -> web.Response:
    body = (
        p.paragraph("Activez votre e-CPS pour vous connecter aux services de santé avec votre téléphone.")
        + p.link("/activation", "Demander l'activation de la e-CPS (sans carte CPS)")
        + p.link(request.app[CARD_URL_KEY]() + "/carte", "Activer ma e-CPS avec ma carte CPS")
    )
    return p.page(Screen.ACCUEIL, "Activer ma e-CPS", body, site=SITE)


async def activation_form(request: web.Request) -> web.Response:
    device = _device(request)
    body = p.paragraph(
        "Saisissez votre identifiant national : numéro RPPS précédé du chiffre 8, ou, pour les infirmiers, "
        "numéro ADELI précédé du chiffre 0."
    ) + p.form(f"/activation?appareil={device}", [("identifiant", "Identifiant national", "text")], "Continuer")
    return p.page(Screen.SAISIE_IDENTIFIANT, "Demander l'activation de la e-CPS", body, site=SITE)


async def activation_start(request: web.Request) -> web.Response:
    fields = await form_fields(request, "identifiant")
    try:
        activation = start_without_card(
            request.app[WORLD_KEY], request.app[WALLET_KEY], fields["identifiant"], _device(request)
        )
    except Refusal as refusal:
        return refusal_page(refusal)
    raise web.HTTPSeeOther(f"/activation/{activation.id}/codes")


def _activation(request: web.Request) -> Activation:
    activation_id = request.match_info["activation"]
    try:
        return request.app[WALLET_KEY].get(activation_id)
    except Refusal as refusal:
        raise web.HTTPNotFound(text=refusal.message) from None


async def codes_form(request: web.Request) -> web.Response:
    activation = _activation(request)
    body = p.paragraph(
        "Un code vous a été envoyé par courriel et un autre par SMS, aux coordonnées enregistrées dans le RPPS."
    ) + p.form(
        f"/activation/{activation.id}/codes",
        [("code_courriel", "Code reçu par courriel", "text"), ("code_sms", "Code reçu par SMS", "text")],
        "Valider",
    )
    return p.page(Screen.SAISIE_CODES, "Codes d'activation", body, site=SITE)


async def codes_submit(request: web.Request) -> web.Response:
    activation = _activation(request)
    fields = await form_fields(request, "code_courriel", "code_sms")
    try:
        submit_codes(
            request.app[WORLD_KEY], request.app[WALLET_KEY], activation.id, fields["code_courriel"], fields["code_sms"]
        )
    except Refusal as refusal:
        return refusal_page(refusal)
    raise web.HTTPSeeOther(f"/activation/{activation.id}/code-e-cps")


async def password_form(request: web.Request) -> web.Response:
    activation = _activation(request)
    body = p.paragraph("Choisissez le code à 4 chiffres de votre e-CPS : il vous sera demandé sur votre téléphone.")
    body += p.form(
        f"/activation/{activation.id}/code-e-cps",
        [("code", "Code e-CPS", "password"), ("confirmation", "Confirmez le code e-CPS", "password")],
        "Activer",
    )
    return p.page(Screen.CHOIX_CODE_E_CPS, "Code de votre e-CPS", body, site=SITE)


async def password_submit(request: web.Request) -> web.Response:
    activation = _activation(request)
    fields = await form_fields(request, "code", "confirmation")
    try:
        choose_password(
            request.app[WORLD_KEY], request.app[WALLET_KEY], activation.id, fields["code"], fields["confirmation"]
        )
    except Refusal as refusal:
        return refusal_page(refusal)
    raise web.HTTPSeeOther(f"/activation/{activation.id}/terminee")


async def done(request: web.Request) -> web.Response:
    activation = _activation(request)
    if activation.step is not Step.DONE:
        raise web.HTTPConflict(text="activation non terminée")
    body = p.paragraph(f"Votre e-CPS est activée pour l'identifiant {activation.national_id}.", "ok")
    body += p.paragraph("Vous pouvez maintenant accéder à SI-DEP avec votre e-CPS via « Pro Santé Connect ».")
    return p.page(Screen.E_CPS_ACTIVEE, "e-CPS activée", body, site=SITE)


# -- with a card ------------------------------------------------------------------------------------
async def card_start(request: web.Request) -> web.Response:
    try:
        activation, _ = start_with_card(
            request.app[WORLD_KEY],
            request.app[WALLET_KEY],
            peer_certificate(request),
            request.app[AUTHORITIES_KEY](),
            _device(request),
        )
    except Refusal as refusal:
        return refusal_page(refusal)
    seconds = int(QR_LIFETIME.total_seconds())  # the page says how long a QR code lasts, as the real one does
    body = (
        p.paragraph(f"Carte CPS de {activation.holder} ({activation.national_id}).")
        + p.paragraph(f"Scannez ce QR code avec l'application e-CPS (valable {seconds} secondes) :")
        + f'<p class="code" data-qr="{p.text(activation.qr_token)}">{p.text(activation.qr_token)}</p>'
        + p.form(
            f"/carte/{activation.id}/confirmation",
            [("code", "Code affiché sur votre téléphone", "text")],
            "Valider",
        )
    )
    return p.page(Screen.QR_ACTIVATION, "Activation avec votre carte CPS", body, site=SITE)


async def card_confirm(request: web.Request) -> web.Response:
    activation = _activation(request)
    fields = await form_fields(request, "code")
    try:
        confirm_scan(request.app[WORLD_KEY], request.app[WALLET_KEY], activation.id, fields["code"])
    except Refusal as refusal:
        return refusal_page(refusal)
    raise web.HTTPSeeOther(f"/activation/{activation.id}/code-e-cps")


async def id_check(request: web.Request) -> web.Response:
    """JSON helper for the e-CPS app: is this national id well formed? (no lookup)"""
    try:
        return web.json_response(
            {"valide": True, "identifiant": check_national_id(request.query.get("identifiant", ""))}
        )
    except Refusal as refusal:
        return web.json_response({"valide": False, "message": refusal.message}, status=400)


def make_app(
    world: WorldState,
    wallet: WalletState,
    authorities: Callable[[], Iterable[AuthorityState]],
    card_url: Callable[[], str],
) -> web.Application:
    app = web.Application(client_max_size=MAX_FORM)
    app[WORLD_KEY] = world
    app[WALLET_KEY] = wallet
    app[AUTHORITIES_KEY] = authorities
    app[CARD_URL_KEY] = card_url
    app.router.add_get("/", home)
    app.router.add_get("/activation", activation_form)
    app.router.add_post("/activation", activation_start)
    app.router.add_get("/activation/{activation}/codes", codes_form)
    app.router.add_post("/activation/{activation}/codes", codes_submit)
    app.router.add_get("/activation/{activation}/code-e-cps", password_form)
    app.router.add_post("/activation/{activation}/code-e-cps", password_submit)
    app.router.add_get("/activation/{activation}/terminee", done)
    app.router.add_get("/carte", card_start)
    app.router.add_post("/carte/{activation}/confirmation", card_confirm)
    app.router.add_get("/api/identifiant", id_check)
    return app
