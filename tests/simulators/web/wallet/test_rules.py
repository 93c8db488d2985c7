"""``simulators.web.wallet.rules``: the e-CPS activation rules of the ANS wallet, on a bare world state.

Without a card (guide step 2, G2): the national id's format, the directory lookup (unknown ids,
nurses listed from 2020-11-25), contacts absent or outdated in the directory and the order's
update delay, the codes sent by e-mail and SMS to the directory's contacts, wrong codes counting
down and locking after 3, the codes' lifetime on the world clock, the e-CPS password rules.
With a card (step 3, G3): each certificate status and its refusal screen and advice, the QR code
valid 90 s, the phone's scan, the confirmation code typed back, and the e-CPS it makes.

The codes are read where the professional reads them: in the world's outbox.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from harness.pki import CertVariant, Pki
from harness.pki import Professional as Cardholder
from simulators.web.wallet.rules import (
    CODE_LIFETIME,
    Activation,
    Step,
    WalletState,
    choose_password,
    confirm_scan,
    phone_scans,
    start_with_card,
    start_without_card,
    submit_codes,
)
from simulators.web.wording import CARD_ADVICE, SUPPORT, Refusal
from simulators.world.clock import Clock
from simulators.world.directory import Contacts, Professional
from simulators.world.outbox import Channel
from simulators.world.state import WorldState

START = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)
EMAIL, MOBILE = "carole@officine.test", "+33600000001"
NEW_EMAIL, NEW_MOBILE = "carole@nouvelle-officine.test", "+33600000002"
COMPUTER, PHONE = "poste-1", "telephone-1"

PHARMACIST_ID = "899700075122"
DOCTOR_ID = "899700209812"
NURSE_ID = "0756012345"
WHO = {
    # profession: civility, first name, last name, RPPS, ADELI
    "21": ("MME", "CAROLE", "PHARMACH0007512", "99700075122", None),
    "10": ("M", "ALAIN", "D0000020981", "99700209812", None),
    "60": ("MME", "SOPHIE", "INFIRMIERE0001", None, "756012345"),
    "40": ("M", "DENIS", "DENTISTE0001", "99700209812", None),
}
ID_BY_PROFESSION = {"21": PHARMACIST_ID, "10": DOCTOR_ID, "60": NURSE_ID, "40": DOCTOR_ID}


# -- helpers ------------------------------------------------------------------------------------------
def new_world(start: dt.datetime = START) -> WorldState:
    return WorldState(clock=Clock(start))


def listed(
    world: WorldState, profession: str = "21", email: str | None = EMAIL, mobile: str | None = MOBILE
) -> Professional:
    civility, first_name, last_name, rpps, adeli = WHO[profession]
    return world.directory.add(
        Professional(civility, first_name, last_name, profession, rpps, adeli, Contacts(email, mobile))
    )


def received(world: WorldState, address: str) -> list[str]:
    """The six-digit codes in what ``address`` has received by now, newest first."""
    return [code for m in world.outbox.mailbox(address, world.now()) for code in re.findall(r"\b\d{6}\b", m.body)]


def codes_for(world: WorldState, email: str = EMAIL, mobile: str = MOBILE) -> tuple[str, str]:
    """The latest code received by e-mail and the latest by SMS."""
    return received(world, email)[0], received(world, mobile)[0]


def refusal(call: object, *args: object) -> Refusal:
    assert callable(call)
    with pytest.raises(Refusal) as caught:
        call(*args)
    return caught.value


def started(world: WorldState, wallet: WalletState, national_id: str = PHARMACIST_ID) -> Activation:
    return start_without_card(world, wallet, national_id, COMPUTER)


def at_password_step(world: WorldState, wallet: WalletState) -> Activation:
    listed(world)
    activation = started(world, wallet)
    return submit_codes(world, wallet, activation.id, *codes_for(world))


def wrong(code: str) -> str:
    """Another six-digit code than ``code``."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


def card_der(pki: Pki, variant: CertVariant = CertVariant.VALID, *, signature: bool = False) -> bytes:
    card = pki.cards.issue(Cardholder(DOCTOR_ID, "D0000020981", "ALAIN", "Médecin"), START, variant)
    certificate = card.signature.certificate if signature else card.authentication.certificate
    return certificate.public_bytes(serialization.Encoding.DER)


def with_card(world: WorldState, wallet: WalletState, pki: Pki, der: bytes | None) -> Activation:
    activation, _ = start_with_card(world, wallet, der, pki.cards.authorities.values(), COMPUTER)
    return activation


# -- without a card: the national id and the directory ------------------------------------------------
def test_a_malformed_id_is_refused_before_any_lookup_or_message() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    refused = refusal(start_without_card, world, wallet, "89970007512", COMPUTER)
    assert refused.screen == "identifiant-invalide"
    assert world.outbox.sent == [] and wallet.activations == {}


def test_an_id_absent_from_the_directory_is_unknown_and_sends_to_annuaire_sante() -> None:
    world, wallet = new_world(), WalletState()
    refused = refusal(start_without_card, world, wallet, DOCTOR_ID, COMPUTER)
    assert refused.screen == "identifiant-inconnu"
    assert DOCTOR_ID in refused.message and "annuaire santé" in refused.message
    assert any("annuaire.sante.fr" in line for line in refused.advice)
    assert any("ARS" in line for line in refused.advice)
    assert world.outbox.sent == []


def test_the_typed_id_is_normalised_before_the_lookup() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet, " 8 9970 0075 122 ")
    assert activation.national_id == PHARMACIST_ID


def test_a_nurse_is_unknown_before_the_2020_11_25_bulk_update_and_listed_from_it() -> None:
    world, wallet = new_world(dt.datetime(2020, 11, 24, 23, 59, tzinfo=dt.UTC)), WalletState()
    listed(world, "60")
    assert refusal(start_without_card, world, wallet, NURSE_ID, COMPUTER).screen == "identifiant-inconnu"
    world.clock.advance("1min")
    assert started(world, wallet, NURSE_ID).national_id == NURSE_ID


# -- without a card: contacts absent or outdated ------------------------------------------------------
def test_no_email_and_no_mobile_in_the_directory_is_the_guides_failure_screen() -> None:
    world, wallet = new_world(), WalletState()
    listed(world, email=None, mobile=None)
    refused = refusal(start_without_card, world, wallet, PHARMACIST_ID, COMPUTER)
    assert refused.screen == "coordonnees-absentes"
    assert refused.message == "Votre adresse e-mail et votre numéro de mobile ne sont pas présents dans le RPPS."
    assert world.outbox.sent == [] and wallet.activations == {}


def test_a_missing_mobile_alone_is_named() -> None:
    world, wallet = new_world(), WalletState()
    listed(world, mobile=None)
    refused = refusal(start_without_card, world, wallet, PHARMACIST_ID, COMPUTER)
    assert refused.screen == "coordonnees-absentes"
    assert refused.message == "Votre numéro de mobile n'est pas présent dans le RPPS."
    assert world.outbox.sent == [], "no code goes out by e-mail when the SMS one cannot"


def test_a_missing_email_alone_is_named_in_correct_french() -> None:
    """« adresse » is feminine: « n'est pas présente »."""
    world, wallet = new_world(), WalletState()
    listed(world, email="")
    refused = refusal(start_without_card, world, wallet, PHARMACIST_ID, COMPUTER)
    assert refused.screen == "coordonnees-absentes"
    assert refused.message == "Votre adresse e-mail n'est pas présente dans le RPPS."


@pytest.mark.parametrize(
    ("profession", "site", "delay"),
    [("21", "https://e-pop.ordre.pharmacien.fr", "48 h"), ("10", "https://monespace.medecin.fr", "72 h")],
)
def test_missing_contacts_point_to_the_orders_site_and_its_delay(profession: str, site: str, delay: str) -> None:
    world, wallet = new_world(), WalletState()
    listed(world, profession, email=None, mobile=None)
    advice = refusal(start_without_card, world, wallet, ID_BY_PROFESSION[profession], COMPUTER).advice
    assert site in advice[0] and delay in advice[0]


def test_missing_contacts_of_a_nurse_point_to_the_nurses_order() -> None:
    world, wallet = new_world(), WalletState()
    listed(world, "60", email=None, mobile=None)
    advice = refusal(start_without_card, world, wallet, NURSE_ID, COMPUTER).advice
    assert "ordre-infirmiers.fr" in advice[0]


@pytest.mark.parametrize("profession", ["21", "60", "40"])
def test_missing_contacts_always_suggest_the_card_and_a_reader(profession: str) -> None:
    world, wallet = new_world(), WalletState()
    listed(world, profession, email=None, mobile=None)
    advice = refusal(start_without_card, world, wallet, ID_BY_PROFESSION[profession], COMPUTER).advice
    assert "carte CPS" in advice[-1] and "lecteur de cartes" in advice[-1]


def test_a_profession_without_an_order_site_gets_only_the_card_suggestion() -> None:
    world, wallet = new_world(), WalletState()
    listed(world, "40", email=None, mobile=None)
    advice = refusal(start_without_card, world, wallet, DOCTOR_ID, COMPUTER).advice
    assert len(advice) == 1 and "carte CPS" in advice[0]


def test_outdated_contacts_get_the_codes_and_the_new_ones_nothing() -> None:
    """G2-05: the professional changed address at the order; the directory does not know yet."""
    world, wallet = new_world(), WalletState()
    listed(world)
    world.directory.order_update(PHARMACIST_ID, Contacts(NEW_EMAIL, NEW_MOBILE), world.now())
    started(world, wallet)
    assert len(received(world, EMAIL)) == 1 and len(received(world, MOBILE)) == 1
    assert received(world, NEW_EMAIL) == [] and received(world, NEW_MOBILE) == []


@pytest.mark.parametrize(("profession", "hours"), [("21", 48), ("10", 72)])
def test_contacts_given_to_the_order_reach_the_directory_after_the_guides_delay(profession: str, hours: int) -> None:
    """G2-06/07: pharmacists' updates take 48 h, doctors' 72 h."""
    world, wallet = new_world(), WalletState()
    national_id = ID_BY_PROFESSION[profession]
    listed(world, profession, email=None, mobile=None)
    world.directory.order_update(national_id, Contacts(NEW_EMAIL, NEW_MOBILE), world.now())
    world.clock.advance(dt.timedelta(hours=hours) - SECOND)
    assert refusal(start_without_card, world, wallet, national_id, COMPUTER).screen == "coordonnees-absentes"
    world.clock.advance(SECOND)
    started(world, wallet, national_id)
    assert len(received(world, NEW_EMAIL)) == 1 and len(received(world, NEW_MOBILE)) == 1


# -- without a card: the codes ------------------------------------------------------------------------
def test_one_code_goes_by_email_and_one_by_sms_to_the_directory_contacts() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    started(world, wallet)
    (email,) = world.outbox.mailbox(EMAIL, world.now())
    (sms,) = world.outbox.mailbox(MOBILE, world.now())
    assert (email.channel, sms.channel) == (Channel.EMAIL, Channel.SMS)
    assert email.subject == "Activation de votre e-CPS"
    assert re.search(r"\b\d{6}\b", email.body) and re.search(r"\b\d{6}\b", sms.body)
    assert len(world.outbox.sent) == 2


def test_the_activation_waits_for_the_codes_on_the_device_that_asked() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    assert (activation.step, activation.method, activation.device) == (Step.CODES, "sans carte", COMPUTER)
    assert activation.tries_left == 3
    assert wallet.get(activation.id) is activation


def test_each_request_is_a_new_activation_with_new_codes_sent() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    first, second = started(world, wallet), started(world, wallet)
    assert first.id != second.id and len(wallet.activations) == 2
    assert len(received(world, EMAIL)) == 2


def test_the_email_and_sms_codes_open_the_password_step() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    assert submit_codes(world, wallet, activation.id, *codes_for(world)).step is Step.PASSWORD


def test_spaces_around_the_typed_codes_are_ignored() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    email_code, sms_code = codes_for(world)
    assert submit_codes(world, wallet, activation.id, f" {email_code} ", f"{sms_code}\n").step is Step.PASSWORD


def test_the_two_codes_typed_in_each_others_field_are_wrong() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    email_code, sms_code = codes_for(world)
    if email_code == sms_code:  # one chance in a million: the swap would be right
        sms_code = email_code = wrong(email_code)
    assert refusal(submit_codes, world, wallet, activation.id, sms_code, email_code).screen == "code-incorrect"


def test_one_right_code_is_not_enough() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    email_code, sms_code = codes_for(world)
    assert refusal(submit_codes, world, wallet, activation.id, email_code, wrong(sms_code)).screen == "code-incorrect"
    assert activation.step is Step.CODES


def test_a_wrong_code_says_how_many_tries_are_left_and_what_to_type() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    email_code, sms_code = codes_for(world)
    first = refusal(submit_codes, world, wallet, activation.id, wrong(email_code), sms_code)
    second = refusal(submit_codes, world, wallet, activation.id, wrong(email_code), sms_code)
    assert first.message == "Code incorrect. Il vous reste 2 essai(s)."
    assert second.message == "Code incorrect. Il vous reste 1 essai(s)."
    assert first.advice == ("Saisissez le code reçu par courriel et celui reçu par SMS.",)


def test_the_right_codes_still_work_after_two_wrong_tries() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    email_code, sms_code = codes_for(world)
    for _ in range(2):
        refusal(submit_codes, world, wallet, activation.id, email_code, wrong(sms_code))
    assert submit_codes(world, wallet, activation.id, email_code, sms_code).step is Step.PASSWORD


def test_the_third_wrong_try_locks_the_activation() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    email_code, sms_code = codes_for(world)
    for _ in range(2):
        refusal(submit_codes, world, wallet, activation.id, email_code, wrong(sms_code))
    third = refusal(submit_codes, world, wallet, activation.id, email_code, wrong(sms_code))
    assert third.screen == "activation-verrouillee"
    assert "Trop d'essais" in third.message and "Recommencez la demande d'activation" in third.message
    assert activation.step is Step.LOCKED


def test_a_locked_activation_refuses_even_the_right_codes() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    email_code, sms_code = codes_for(world)
    for _ in range(3):
        refusal(submit_codes, world, wallet, activation.id, wrong(email_code), sms_code)
    assert refusal(submit_codes, world, wallet, activation.id, email_code, sms_code).screen == "activation-verrouillee"


def test_a_new_request_after_a_lock_starts_afresh() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    locked = started(world, wallet)
    for _ in range(3):
        refusal(submit_codes, world, wallet, locked.id, "000000", "000000")
    again = started(world, wallet)
    assert submit_codes(world, wallet, again.id, *codes_for(world)).step is Step.PASSWORD


def test_the_email_announces_the_codes_lifetime() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    started(world, wallet)
    (email,) = world.outbox.mailbox(EMAIL, world.now())
    announced = re.search(r"valable (\d+) minutes", email.body)
    assert announced is not None
    assert dt.timedelta(minutes=int(announced.group(1))) == CODE_LIFETIME == dt.timedelta(minutes=15)


def test_codes_are_accepted_until_their_last_second() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    world.clock.advance(dt.timedelta(minutes=15) - SECOND)
    assert submit_codes(world, wallet, activation.id, *codes_for(world)).step is Step.PASSWORD


def test_codes_expire_after_fifteen_minutes_on_the_world_clock() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    codes = codes_for(world)
    world.clock.advance("15min")
    refused = refusal(submit_codes, world, wallet, activation.id, *codes)
    assert refused.screen == "activation-expiree"
    assert "les codes ne sont plus valables" in refused.message and "Recommencez" in refused.message
    assert activation.step is Step.EXPIRED


def test_an_expired_activation_stays_expired_and_costs_no_try() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    world.clock.advance("16min")
    for _ in range(4):
        assert refusal(submit_codes, world, wallet, activation.id, "000000", "000000").screen == "activation-expiree"
    assert activation.tries_left == 3


def test_codes_delivered_late_arrive_expired() -> None:
    """The outbox fault 'delay': the SMS comes after the code's lifetime."""
    world, wallet = new_world(), WalletState()
    listed(world)
    world.outbox.faults.delay = dt.timedelta(minutes=20)
    activation = started(world, wallet)
    assert received(world, MOBILE) == []
    world.clock.advance("20min")
    assert refusal(submit_codes, world, wallet, activation.id, *codes_for(world)).screen == "activation-expiree"


def test_codes_cannot_be_submitted_twice() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    codes = codes_for(world)
    submit_codes(world, wallet, activation.id, *codes)
    refused = refusal(submit_codes, world, wallet, activation.id, *codes)
    assert (refused.screen, refused.message) == ("etape-invalide", "Cette étape est déjà passée.")


@pytest.mark.parametrize(
    ("call", "args"),
    [(submit_codes, ("000000", "000000")), (choose_password, ("1234", "1234")), (confirm_scan, ("000000",))],
)
def test_an_activation_id_the_wallet_never_gave_is_unknown(call: object, args: tuple[str, ...]) -> None:
    refused = refusal(call, new_world(), WalletState(), "pas-une-activation", *args)
    assert refused.screen == "activation-inconnue"


# -- the e-CPS password -------------------------------------------------------------------------------
def test_the_password_cannot_be_chosen_before_the_codes() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    activation = started(world, wallet)
    refused = refusal(choose_password, world, wallet, activation.id, "1234", "1234")
    assert (refused.screen, refused.message) == ("etape-invalide", "Validez d'abord les codes d'activation.")
    assert world.ecps.find(PHARMACIST_ID) is None


@pytest.mark.parametrize("password", ["", "123", "12345", "12a4", "12 4", "abcd"])
def test_the_e_cps_password_is_four_digits(password: str) -> None:
    world, wallet = new_world(), WalletState()
    activation = at_password_step(world, wallet)
    refused = refusal(choose_password, world, wallet, activation.id, password, password)
    assert (refused.screen, refused.message) == ("code-e-cps-invalide", "Le code e-CPS comporte 4 chiffres.")
    assert world.ecps.find(PHARMACIST_ID) is None


@pytest.mark.parametrize("password", ["²³¹⁴", "١٢٣٤"])
def test_look_alike_digits_are_not_an_e_cps_password(password: str) -> None:
    """The e-CPS app's keypad types 0-9; superscripts or Arabic-Indic digits are no 4-digit code."""
    world, wallet = new_world(), WalletState()
    activation = at_password_step(world, wallet)
    assert refusal(choose_password, world, wallet, activation.id, password, password).screen == "code-e-cps-invalide"


def test_the_two_password_entries_must_match() -> None:
    world, wallet = new_world(), WalletState()
    activation = at_password_step(world, wallet)
    refused = refusal(choose_password, world, wallet, activation.id, "1234", "1243")
    assert refused.message == "Les deux saisies du code e-CPS sont différentes."
    assert activation.step is Step.PASSWORD and world.ecps.find(PHARMACIST_ID) is None


def test_choosing_the_password_activates_the_e_cps_without_card() -> None:
    world, wallet = new_world(), WalletState()
    activation = at_password_step(world, wallet)
    world.clock.advance("2min")
    assert choose_password(world, wallet, activation.id, "2468", "2468").step is Step.DONE
    ecps = world.ecps.find(PHARMACIST_ID)
    assert ecps is not None
    assert (ecps.device, ecps.password, ecps.method) == (COMPUTER, "2468", "sans carte")
    assert ecps.activated_at == START + dt.timedelta(minutes=2)


def test_the_password_cannot_be_chosen_twice() -> None:
    world, wallet = new_world(), WalletState()
    activation = at_password_step(world, wallet)
    choose_password(world, wallet, activation.id, "2468", "2468")
    assert refusal(choose_password, world, wallet, activation.id, "1357", "1357").screen == "etape-invalide"
    ecps = world.ecps.find(PHARMACIST_ID)
    assert ecps is not None and ecps.password == "2468"


# -- with a card: the certificate ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("variant", "screen", "words"),
    [
        (CertVariant.EXPIRED, "certificat-expire", "a expiré"),
        (CertVariant.NOT_YET_VALID, "certificat-pas-encore-valide", "n'est pas encore valide"),
    ],
)
def test_a_card_certificate_out_of_its_dates_is_refused_with_the_card_advice(
    pki: Pki, variant: CertVariant, screen: str, words: str
) -> None:
    world, wallet = new_world(), WalletState()
    refused = refusal(with_card, world, wallet, pki, card_der(pki, variant))
    assert refused.screen == screen and words in refused.message
    assert refused.advice == CARD_ADVICE
    assert wallet.activations == {}


def test_no_certificate_means_the_card_was_not_read(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    refused = refusal(with_card, world, wallet, pki, None)
    assert refused.screen == "aucun-certificat"
    assert "n'a pas été lue" in refused.message
    assert any("insérée dans le lecteur" in line for line in refused.advice)
    assert any("ATSAM" in line for line in refused.advice)
    assert refused.advice[-1] == SUPPORT


def test_a_revoked_card_is_told_to_declare_its_loss(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    refused = refusal(with_card, world, wallet, pki, card_der(pki, CertVariant.REVOKED))
    assert refused.screen == "certificat-revoque" and "opposition" in refused.message
    assert "perte ou le vol" in refused.advice[0] and "nouvelle" in refused.advice[0]
    assert refused.advice[1:] == (SUPPORT,)


def test_the_cards_signature_certificate_is_refused_as_unsuited(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    refused = refusal(with_card, world, wallet, pki, card_der(pki, signature=True))
    assert refused.screen == "certificat-inadapte"
    assert "pas un certificat d'authentification" in refused.message


def test_a_certificate_not_from_igc_sante_is_refused(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    der = card_der(pki)
    refused = refusal(start_with_card, world, wallet, der, [], COMPUTER)
    assert refused.screen == "autorite-inconnue" and "IGC-Santé" in refused.message
    assert refused.advice == CARD_ADVICE


def test_the_card_dates_are_judged_on_the_world_clock(pki: Pki) -> None:
    """A card valid when issued reads expired once the world's clock passes its three years."""
    der = card_der(pki)
    end = x509.load_der_x509_certificate(der).not_valid_after_utc
    world, wallet = new_world(end + SECOND), WalletState()
    assert refusal(with_card, world, wallet, pki, der).screen == "certificat-expire"


def test_a_valid_card_opens_a_qr_code_for_its_holder(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    activation, check = start_with_card(world, wallet, card_der(pki), pki.cards.authorities.values(), COMPUTER)
    assert check.status == "valid"
    assert (activation.national_id, activation.holder) == (DOCTOR_ID, "ALAIN D0000020981")
    assert (activation.step, activation.method) == (Step.SCAN, "carte")
    assert activation.qr_token and wallet.by_qr(activation.qr_token) is activation
    assert world.outbox.sent == [], "the card path sends no code"


def test_the_card_holder_needs_no_directory_contacts(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    listed(world, "10", email=None, mobile=None)
    assert with_card(world, wallet, pki, card_der(pki)).step is Step.SCAN


# -- with a card: the QR code, the phone, the confirmation code ---------------------------------------
def test_the_phone_can_scan_until_the_qr_codes_last_second(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    activation = with_card(world, wallet, pki, card_der(pki))
    world.clock.advance("89s")
    assert phone_scans(world, wallet, activation.qr_token, PHONE).step is Step.CONFIRM


def test_a_qr_code_scanned_after_90_seconds_has_expired(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    activation = with_card(world, wallet, pki, card_der(pki))
    world.clock.advance("90s")
    assert refusal(phone_scans, world, wallet, activation.qr_token, PHONE).screen == "activation-expiree"


def test_an_unknown_qr_code_is_not_recognised() -> None:
    refused = refusal(phone_scans, new_world(), WalletState(), "pas-un-qr-code", PHONE)
    assert (refused.screen, refused.message) == ("qr-inconnu", "Ce QR code n'est pas reconnu.")


def test_an_empty_qr_code_matches_no_activation_without_card() -> None:
    world, wallet = new_world(), WalletState()
    listed(world)
    started(world, wallet)
    assert refusal(phone_scans, world, wallet, "", PHONE).screen == "qr-inconnu"


def test_the_scan_shows_a_six_digit_code_and_binds_the_phone(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    activation = with_card(world, wallet, pki, card_der(pki))
    scanned = phone_scans(world, wallet, activation.qr_token, PHONE)
    assert scanned is activation and scanned.device == PHONE
    assert re.fullmatch(r"\d{6}", scanned.confirmation_code)


def test_a_qr_code_can_be_scanned_once(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    activation = with_card(world, wallet, pki, card_der(pki))
    phone_scans(world, wallet, activation.qr_token, PHONE)
    refused = refusal(phone_scans, world, wallet, activation.qr_token, "telephone-2")
    assert (refused.screen, refused.message) == ("etape-invalide", "Ce QR code a déjà été utilisé.")
    assert activation.device == PHONE


def test_the_code_cannot_be_confirmed_before_the_scan(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    activation = with_card(world, wallet, pki, card_der(pki))
    refused = refusal(confirm_scan, world, wallet, activation.id, "123456")
    assert refused.screen == "qr-non-scanne" and "Scannez d'abord le QR code" in refused.message
    assert activation.tries_left == 3


def test_the_code_the_phone_shows_typed_back_opens_the_password_step(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    activation = with_card(world, wallet, pki, card_der(pki))
    shown = phone_scans(world, wallet, activation.qr_token, PHONE).confirmation_code
    assert confirm_scan(world, wallet, activation.id, f" {shown} ").step is Step.PASSWORD


def test_a_wrong_confirmation_code_counts_down_without_advice_and_locks_at_the_third(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    activation = with_card(world, wallet, pki, card_der(pki))
    shown = phone_scans(world, wallet, activation.qr_token, PHONE).confirmation_code
    first = refusal(confirm_scan, world, wallet, activation.id, wrong(shown))
    assert (first.screen, first.message, first.advice) == (
        "code-incorrect",
        "Code incorrect. Il vous reste 2 essai(s).",
        (),
    )
    refusal(confirm_scan, world, wallet, activation.id, wrong(shown))
    assert refusal(confirm_scan, world, wallet, activation.id, wrong(shown)).screen == "activation-verrouillee"
    assert refusal(confirm_scan, world, wallet, activation.id, shown).screen == "activation-verrouillee"


def test_the_confirmation_cannot_be_typed_twice(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    activation = with_card(world, wallet, pki, card_der(pki))
    shown = phone_scans(world, wallet, activation.qr_token, PHONE).confirmation_code
    confirm_scan(world, wallet, activation.id, shown)
    assert refusal(confirm_scan, world, wallet, activation.id, shown).screen == "etape-invalide"


def test_the_card_path_activates_an_e_cps_on_the_phone_that_scanned(pki: Pki) -> None:
    world, wallet = new_world(), WalletState()
    activation = with_card(world, wallet, pki, card_der(pki))
    shown = phone_scans(world, wallet, activation.qr_token, PHONE).confirmation_code
    confirm_scan(world, wallet, activation.id, shown)
    assert choose_password(world, wallet, activation.id, "9753", "9753").step is Step.DONE
    ecps = world.ecps.find(DOCTOR_ID)
    assert ecps is not None
    assert (ecps.method, ecps.device, ecps.password) == ("carte", PHONE, "9753")


def test_the_qr_codes_90_seconds_do_not_cut_short_the_password_step(pki: Pki) -> None:
    """The ANS FAQ's 90 s are the QR code's validity: once scanned in time, choosing the password may take longer."""
    world, wallet = new_world(), WalletState()
    activation = with_card(world, wallet, pki, card_der(pki))
    world.clock.advance("30s")
    shown = phone_scans(world, wallet, activation.qr_token, PHONE).confirmation_code
    world.clock.advance("20s")
    confirm_scan(world, wallet, activation.id, shown)
    world.clock.advance("60s")
    assert choose_password(world, wallet, activation.id, "9753", "9753").step is Step.DONE
