"""The ANS wallet site (``wallet.esw.esante.gouv.fr``): e-CPS activation screens.

One application serves two ports of the world: the plain TLS port (home, activation without a
card) and the card port, whose TLS asks for a client certificate (``/carte``). Every refusal is
a page with its screen id and the guide's advice; malformed input is a 4xx, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiohttp import web

from simulators.web.certificates import peer_certificate
from simulators.web.forms import MAX_FORM, form_fields
from simulators.web.national_id import check_national_id
from simulators.web.page import render
from simulators.web.screens import Screen
from simulators.web.wallet.qr import qr_image
from simulators.web.wallet.rules import (
    QR_LIFETIME,
    Activation,
    Step,
    WalletState,
    choose_password,
    confirm_scan,
    qr_payload,
    start_with_card,
    start_without_card,
    submit_codes,
)
from simulators.web.wording import Refusal
from simulators.world.authorities import AuthorityState
from simulators.world.state import DEFAULT_DEVICE, WorldState

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
    return render(
        "wallet_refusal.html", refusal.screen, status=STATUS_BY_SCREEN.get(refusal.screen, 409),
        title="Activation impossible", refusal=refusal,
    )  # fmt: skip


def _device(request: web.Request) -> str:
    device = request.query.get("appareil", DEFAULT_DEVICE)
    if not device.replace("-", "").isalnum() or len(device) > 64:
        raise web.HTTPBadRequest(text="paramètre appareil invalide")
    return device


async def home(request: web.Request) -> web.Response:
    return render("wallet_home.html", Screen.ACCUEIL, title="Activer ma e-CPS", card_url=request.app[CARD_URL_KEY]())


async def activation_form(request: web.Request) -> web.Response:
    device = _device(request)
    return render(
        "wallet_national_id.html", Screen.SAISIE_IDENTIFIANT, title="Demander l'activation de la e-CPS",
        action=f"/activation?appareil={device}",
    )  # fmt: skip


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
    return render(
        "wallet_codes.html",
        Screen.SAISIE_CODES,
        title="Codes d'activation",
        action=f"/activation/{activation.id}/codes",
    )


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
    return render(
        "wallet_password.html", Screen.CHOIX_CODE_E_CPS, title="Code de votre e-CPS",
        action=f"/activation/{activation.id}/code-e-cps",
    )  # fmt: skip


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
    return render("wallet_done.html", Screen.E_CPS_ACTIVEE, title="e-CPS activée", national_id=activation.national_id)


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
    image = qr_image(qr_payload(str(request.url.origin()), activation.qr_token))
    return render(
        "wallet_qr.html", Screen.QR_ACTIVATION, title="Activation avec votre carte CPS",
        holder=activation.holder, national_id=activation.national_id, token=activation.qr_token,
        qr_image=image.data_uri, qr_size=image.size, action=f"/carte/{activation.id}/confirmation",
        seconds=int(QR_LIFETIME.total_seconds()),  # the page says how long a QR code lasts, as the real one does
    )  # fmt: skip


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
