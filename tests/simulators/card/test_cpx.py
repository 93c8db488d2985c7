"""The sans-IO CPx card, driven byte by byte (expected bytes come from the observed OpenSC traces)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from harness.card.profile import CardProfile, load_profile, make_card
from harness.pki import CertVariant, CertVariants, Pki
from harness.yamlfile import DataFileError
from simulators.card.cpx import ATR, CpxCard
from simulators.card.layout import DATA_OBJECT_FIELDS
from simulators.card.tlv import iter_tlv
from tests.support.paths import REPO

APP_AID = "E828BD080F8025000001FF0010"
ROOT_AID = "8025000001FF0100"
SHA256_PREFIX = bytes.fromhex("3031300D060960864801650304020105000420")


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


class Driver:
    """Sends APDUs and follows 61xx with GET RESPONSE, as OpenSC does."""

    def __init__(self, card: CpxCard) -> None:
        self.card = card

    def raw(self, apdu: str | bytes) -> bytes:
        return self.card.process(h(apdu) if isinstance(apdu, str) else apdu)

    def send(self, apdu: str | bytes) -> tuple[bytes, int]:
        answer = self.raw(apdu)
        data, sw = answer[:-2], int.from_bytes(answer[-2:], "big")
        while sw >> 8 == 0x61:
            answer = self.raw(bytes([0, 0xC0, 0, 0, sw & 0xFF]))
            data, sw = data + answer[:-2], int.from_bytes(answer[-2:], "big")
        return data, sw

    def ok(self, apdu: str | bytes) -> bytes:
        data, sw = self.send(apdu)
        assert sw == 0x9000, f"{apdu}: {sw:04X}"
        return data

    def verify_pin(self, pin: str = "1234") -> int:
        return self.send(bytes([0, 0x20, 0, 1, len(pin)]) + pin.encode())[1]

    def pin_tries(self) -> int:
        return self.card.security.chvs[1].tries_left


@pytest.fixture
def made(session_pki: Pki) -> tuple[CpxCard, x509.Certificate, x509.Certificate]:
    card, credentials = make_card(load_profile("pharmacist"), session_pki)
    return card, credentials.authentication.certificate, credentials.signature.certificate


@pytest.fixture
def d(made: tuple[CpxCard, x509.Certificate, x509.Certificate]) -> Driver:
    return Driver(made[0])


def test_atr_is_the_cpx_one_and_power_on_keeps_counters(d: Driver) -> None:
    assert d.card.power_on() == ATR == h("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00")
    assert d.verify_pin("0000") == 0x63C2
    assert d.verify_pin() == 0x9000
    assert d.send("00 20 00 01 00")[1] == 0x9000
    d.card.power_on()
    assert d.send("00 20 00 01 00")[1] == 0x63C3  # verified state gone, counter intact (reset to 3 by success)


# -- the connect sequence, byte for byte (card-cpx-trace.md §1) ------------------------------------
def test_connect_sequence_matches_the_trace(d: Driver) -> None:
    first = d.raw("00 A4 09 04 04 3F 00 2F 01")
    assert first[-2] == 0x61, "T=0: the FCP comes by GET RESPONSE"
    fcp = d.ok("00 A4 09 04 04 3F 00 2F 01")
    assert fcp == h(
        "62 25 80 02 00 39 82 01 01 83 02 2F 01 88 01 E8"
        " A1 12 8C 07 7B 45 FF FF FF 45 00 9C 07 7B FF FF FF FF FF 00 8A 01 05"
    )
    ef_atr = d.ok("00 B0 00 00 39")
    assert len(ef_atr) == 57 and ef_atr.startswith(h("80 43 01 B8")) and h("4F 08" + ROOT_AID) in ef_atr
    root = d.ok("00 A4 04 04 08" + ROOT_AID)
    assert h("82 01 38") in root and h("84 08" + ROOT_AID) in root
    assert d.raw("00 B0 9C 00 C0") == h("6C 0C"), "T=0: wrong Le gets 6Cxx with the right one"
    assert d.ok("00 B0 9C 00 0C") == h("5A 0A 80 25 00 00 01 00 00 07 51 22")


def test_select_forms(d: Driver) -> None:
    d.ok("00 A4 04 04 0D" + APP_AID)
    aodf = d.ok("00 A4 02 04 02 70 01")  # P1=02: a file id in the current (application) DF
    assert h("83 02 70 01") in aodf
    assert h("82 01 38") in d.ok("00 A4 02 04 02 3F 00")  # P1=02 3F00: the MF
    assert h("83 02 00 01") in d.ok("00 A4 09 04 04 3F 00 00 01")  # absolute path to the application DF
    d.ok("00 A4 02 04 02 3F 00")
    assert d.send("00 A4 02 04 02 70 01")[1] == 0x6A82  # 7001 is not in the MF
    assert d.send("00 A4 09 04 04 3F 00 99 99")[1] == 0x6A82
    assert d.send("00 A4 04 04 05 A0 00 00 00 01")[1] == 0x6A82
    assert d.raw("00 A4 04 0C 0D" + APP_AID) == h("90 00")  # P2=0C: no data
    assert d.send("00 A4 02 04 02 70 02")[1] == 0x9000  # still in the application after a failed select
    assert d.send("00 A4 08 04 04 00 01 70 04")[1] == 0x9000  # path from the MF
    assert d.send("00 A4 03 04")[1] == 0x9000  # parent
    assert d.send("00 A4 02 05 02 70 01")[1] == 0x6A86
    assert d.send("00 A4 09 04 03 3F 00 00")[1] == 0x6700


def test_get_response_chunks_and_errors(d: Driver) -> None:
    assert d.raw("00 C0 00 00 10") == h("69 85"), "nothing pending"
    assert d.raw("00 A4 09 04 04 3F 00 2F 01") == h("61 27")
    assert d.raw("00 C0 00 00 40") == h("6C 27")
    first = d.raw("00 C0 00 00 10")
    assert first[-2:] == h("61 17") and len(first) == 18
    rest = d.raw("00 C0 00 00 17")
    assert rest[-2:] == h("90 00") and (first[:-2] + rest[:-2]).startswith(h("62 25"))


def test_direct_mode_answers_without_get_response(session_pki: Pki) -> None:
    profile = load_profile("pharmacist").model_copy(update={"t0_get_response": False})
    card, _ = make_card(profile, session_pki)
    answer = card.process(h("00 A4 09 04 04 3F 00 2F 01"))
    assert answer[:2] == h("62 25") and answer[-2:] == h("90 00")
    short = card.process(h("00 B0 00 30 20"))  # 9 bytes left, 32 asked
    assert short[-2:] == h("62 82") and len(short) == 9 + 2


def test_read_binary_errors(d: Driver) -> None:
    assert d.raw("00 B0 00 00 10") == h("69 81"), "no current EF"
    d.ok("00 A4 09 04 04 3F 00 2F 01")
    assert d.raw("00 B0 00 40 01") == h("6B 00")
    assert d.raw("00 B0 00 00") == h("67 00")
    assert d.raw("00 B0 9F 00 01") == h("6A 82")


# -- GET DATA on SDOs ------------------------------------------------------------------------------
def test_pin_sdo_answers_are_the_real_cards(d: Driver) -> None:
    assert d.ok("00 CB 3F FF 0B 4D 09 70 07 BF 81 01 03 7F 41 80") == h("70 0D BF 81 01 09 7F 41 06 80 01 08 81 01 04")
    assert d.ok("00 CB 3F FF 0A 4D 08 70 06 BF 81 01 02 A0 80") == h(
        "70 16 BF 81 01 12 A0 10 9A 01 03 9B 01 03 A1 08 8C 06 F3 00 00 13 FF 00"
    )
    puk = d.ok("00 CB 3F FF 0A 4D 08 70 06 BF 81 02 02 A0 80")
    # iasecc-tool on a real card: ACLs F3:FF:00:FF:FF:00, tries maximum 0A, remaining 0A, usage remaining 00:64
    assert puk == h("70 1A BF 81 02 16 A0 14 9A 01 0A 9B 01 0A 9D 02 00 64 A1 08 8C 06 F3 FF 00 FF FF 00")
    assert d.ok("00 CB 3F FF 0A 4D 08 70 06 BF FB 03 02 7B 80") == h("70 0E BF FB 03 0A 7B 08 A4 06 83 01 02 95 01 08")


def test_security_environments_are_found_from_the_mf_only(d: Driver) -> None:
    """A real CPS3 answers 6A88 to GET DATA of an SE from another DF, and serves it after SELECT MF."""
    d.ok("00 A4 09 0C 04 3F 00 00 01")
    assert d.raw("00 CB 3F FF 0A 4D 08 70 06 BF FB 05 02 7B 80") == h("6A 88")
    assert d.raw("00 CB 3F FF 0A 4D 08 70 06 BF FB 03 02 7B 80") == h("6A 88")
    d.ok("00 A4 09 0C 02 3F 00")
    assert d.raw("00 CB 3F FF 0A 4D 08 70 06 BF FB 05 02 7B 80") == h("90 00")
    assert d.raw("00 CB 3F FF 0A 4D 08 70 06 BF FB 07 02 7B 80") == h("6A 88"), "no SE 7"


def test_select_by_name_without_le_answers_a_bare_9000(d: Driver) -> None:
    """The real card: SELECT by AID with P2=00 and no Le gives 9000 and no FCI; P2=04 gives the FCP."""
    assert d.raw("00 A4 04 00 08" + ROOT_AID) == h("90 00")
    assert d.raw("00 A4 04 00 0D" + APP_AID) == h("90 00")
    assert d.ok("00 A4 04 04 0D" + APP_AID).startswith(h("62"))


def test_key_sdo_and_what_is_not_served(d: Driver) -> None:
    assert d.send("00 CB 3F FF 0B 4D 09 70 07 BF 90 02 03 7F 48 80")[1] == 0x6A80, "6A80, never 6A88"
    key = d.ok("00 CB 3F FF 0A 4D 08 70 06 BF 90 02 02 A0 80")
    assert key.startswith(h("70")) and h("BF 90 02") in key and h("80 02 01 00") in key
    assert h("8C 07 7B FF 11 11 FF FF 00") in key  # INT-AUTH and DECIPHER after the PIN
    for request in ("4D 08 70 06 BF 81 07 02 A0 80", "4D 02 70 00", "01 02 03", "4D 05 70 03 BF 81"):
        assert d.send(f"00 CB 3F FF {len(h(request)):02X} {request}")[1] == 0x6A80
    assert d.send("00 CB 00 FF 03 01 02 03")[1] == 0x6A86


# -- codes -----------------------------------------------------------------------------------------
def test_verify_countdown_block_and_status_queries(d: Driver) -> None:
    assert d.send("00 20 00 01 00")[1] == 0x63C3
    assert d.send("00 20 00 01")[1] == 0x63C3
    assert d.send("00 20 00 01 02 31 32")[1] == 0x6A80, "too short: refused without spending a try"
    assert d.pin_tries() == 3, "status queries and malformed codes spend nothing"
    assert [d.verify_pin("9999") for _ in range(3)] == [0x63C2, 0x63C1, 0x6983]
    assert d.verify_pin() == 0x6983, "a blocked PIN stays blocked, even with the right value"
    assert d.send("00 20 00 01 00")[1] == 0x6983
    assert d.pin_tries() == 0
    assert d.send("00 20 00 05 00")[1] == 0x6A88


def test_verify_then_deauthenticate(d: Driver) -> None:
    assert d.verify_pin() == 0x9000
    assert d.send("00 20 FF 01")[1] == 0x9000
    assert d.send("00 20 00 01 00")[1] == 0x63C3


def test_change_pin(d: Driver) -> None:
    assert d.send("00 24 00 01 08" + "31323334" + "35363738")[1] == 0x9000
    assert d.verify_pin("1234") == 0x63C2
    assert d.verify_pin("5678") == 0x9000
    assert d.send("00 24 00 01 08" + "39393939" + "31313131")[1] == 0x63C2, "a wrong old PIN counts"


def test_unblock_with_the_puk_both_ways(d: Driver) -> None:
    for _ in range(3):
        d.verify_pin("0000")
    assert d.send("00 2C 02 01 04 34 33 32 31")[1] == 0x6982, "P1=02 needs the PUK verified first"
    assert d.send("00 20 00 02 08" + "3132333435363738")[1] == 0x9000
    assert d.send("00 2C 02 01 04 34 33 32 31")[1] == 0x9000
    assert d.verify_pin("4321") == 0x9000 and d.pin_tries() == 3
    for _ in range(3):
        d.verify_pin("0000")
    assert d.send("00 2C 00 01 0C" + "3132333435363738" + "31313131")[1] == 0x9000  # PUK inline
    assert d.verify_pin("1111") == 0x9000
    assert d.send("00 2C 02 02 08 3132333435363738")[1] == 0x6986, "nothing unblocks the PUK"


def test_puk_blocks_after_its_tries(d: Driver) -> None:
    results = [d.send("00 20 00 02 08" + "3030303030303030")[1] for _ in range(10)]
    assert results == [0x63C0 | left for left in range(9, 0, -1)] + [0x6983]
    assert d.send("00 2C 00 01 0C" + "3132333435363738" + "31313131")[1] == 0x6983
    assert d.card.security.chvs[2].tries_left == 0


def test_the_puk_counts_its_uses(session_pki: Pki, tmp_path: Path) -> None:
    """Each successful use of the PUK spends one of its 100 uses; at 0 it is blocked like after 10 wrong tries."""
    text = (REPO / "harness/card/profiles/pharmacist.yaml").read_text()
    worn = tmp_path / "worn.yaml"
    worn.write_text(text.replace('puk: {value: "12345678"}', 'puk: {value: "12345678", usages_left: 1}'))
    d = Driver(make_card(load_profile(worn), session_pki)[0])
    puk_sdo = "00 CB 3F FF 0A 4D 08 70 06 BF 81 02 02 A0 80"
    assert h("9D 02 00 01") in d.ok(puk_sdo)
    for _ in range(3):
        d.verify_pin("0000")
    assert d.send("00 2C 00 01 0C" + "3132333435363738" + "31313131")[1] == 0x9000
    assert h("9D 02 00 00") in d.ok(puk_sdo) and d.card.security.chvs[2].tries_left == 10
    assert d.send("00 20 00 02 00")[1] == 0x6983, "used up: blocked, whatever its tries"
    assert d.send("00 20 00 02 08" + "3132333435363738")[1] == 0x6983


def test_codes_padded_to_their_stored_length_are_taken(d: Driver) -> None:
    """The AODF says needs-padding, padChar FF, storedLength 8: OpenSC sends ``31323334FFFFFFFF``."""
    assert d.send("00 20 00 01 08 31 32 33 34 FF FF FF FF")[1] == 0x9000
    assert d.send("00 24 00 01 10 31 32 33 34 FF FF FF FF 35 36 37 38 FF FF FF FF")[1] == 0x9000
    assert d.verify_pin("5678") == 0x9000
    assert d.send("00 24 00 02 10" + "3132333435363738" * 2)[1] == 0x6986, "the PUK cannot be changed"


# -- keys --------------------------------------------------------------------------------------------
def test_internal_authenticate_signs_the_digest_info(
    made: tuple[CpxCard, x509.Certificate, x509.Certificate], d: Driver
) -> None:
    _, auth_cert, _ = made
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"hello")
    digest_info = SHA256_PREFIX + digest.finalize()
    d.ok("00 22 41 A4 06 84 01 82 80 01 02")
    sign = bytes([0, 0x88, 0, 0, len(digest_info)]) + digest_info
    assert d.send(sign)[1] == 0x6982, "no signature without the PIN"
    assert d.verify_pin() == 0x9000
    signature = d.ok(sign)
    public = auth_cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, b"hello", padding.PKCS1v15(), hashes.SHA256())
    assert d.send(bytes([0, 0x88, 0, 0, 103]) + bytes(103))[1] == 0x6700, "over 40 % of the modulus"


def test_sign_key_refuses_internal_authenticate_and_mse_checks(d: Driver) -> None:
    assert d.send("00 22 41 A4 06 84 01 81 80 01 02")[1] == 0x6A80
    assert d.send("00 22 41 A4 06 84 01 85 80 01 02")[1] == 0x6A88
    assert d.send("00 22 41 A4 03 84 01 82")[1] == 0x6A80
    assert d.send("00 88 00 00 04 01 02 03 04")[1] == 0x6985, "no MSE yet"
    assert d.send("00 22 42 A4 00")[1] == 0x6A86


def test_chained_decipher(made: tuple[CpxCard, x509.Certificate, x509.Certificate], d: Driver) -> None:
    _, auth_cert, _ = made
    public = auth_cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    secret = b"session key 1234"
    cryptogram = b"\x81" + public.encrypt(secret, padding.PKCS1v15())
    d.ok("00 22 41 B8 06 84 01 82 80 01 1A")
    d.verify_pin()
    assert d.raw(bytes([0x10, 0x2A, 0x80, 0x86, 0xFF]) + cryptogram[:255]) == h("90 00")
    plain = d.ok(bytes([0x00, 0x2A, 0x80, 0x86, len(cryptogram) - 255]) + cryptogram[255:])
    assert plain == secret


def test_pso_hash_and_compute_signature_with_the_nonrepudiation_key(
    made: tuple[CpxCard, x509.Certificate, x509.Certificate], d: Driver
) -> None:
    _, _, sign_cert = made
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"ordonnance")
    value = digest.finalize()
    d.ok("00 22 41 AA 03 80 01 40")
    d.ok("00 22 41 B6 06 84 01 81 80 01 42")
    d.ok(bytes([0, 0x2A, 0x90, 0xA0, 34, 0x90, 32]) + value)
    assert d.send("00 2A 9E 9A")[1] == 0x6982
    d.verify_pin()
    signature = d.ok("00 2A 9E 9A")
    public = sign_cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, value, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


# -- faults, classes, log --------------------------------------------------------------------------------
def test_forced_status_word_and_wrong_key_faults(
    made: tuple[CpxCard, x509.Certificate, x509.Certificate], d: Driver
) -> None:
    _, auth_cert, _ = made
    digest_info = SHA256_PREFIX + bytes(32)
    d.ok("00 22 41 A4 06 84 01 82 80 01 02")
    d.verify_pin()
    d.card.faults.forced_sw[0x88] = 0x6F00
    assert d.raw(bytes([0, 0x88, 0, 0, len(digest_info)]) + digest_info) == h("6F 00")
    d.card.faults.forced_sw.clear()
    d.card.faults.wrong_key_signature = True
    signature = d.ok(bytes([0, 0x88, 0, 0, len(digest_info)]) + digest_info)
    public = auth_cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    with pytest.raises(InvalidSignature):
        public.verify(signature, bytes(32), padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


@pytest.mark.parametrize(
    ("apdu", "sw"),
    [
        ("00 FF 00 00", 0x6D00),
        ("0C A4 04 00 02 3F 00", 0x6882),
        ("01 A4 04 00 02 3F 00", 0x6881),
        ("A0 A4 00 00 02 3F 00", 0x6E00),
        ("10 A4 04 00 02 3F 00", 0x6884),
        ("00 A4", 0x6700),
        ("00 A4 04 00 05 3F 00", 0x6700),
        ("00 2A 86 80 02 00 00", 0x6A81),
        ("00 84 00 00 08", 0x9000),
    ],
)
def test_status_words_for_other_commands(d: Driver, apdu: str, sw: int) -> None:
    assert d.send(apdu)[1] == sw


def test_protected_activity_needs_the_pin_and_data_objects_decode(d: Driver) -> None:
    d.ok("00 A4 04 04 0D" + APP_AID)
    d.ok("00 A4 02 04 02 D1 20")
    assert d.send("00 B0 00 00 10")[1] == 0x6982
    d.verify_pin()
    fcp = d.ok("00 A4 02 04 02 D1 20")
    size = int.from_bytes(next(v for t, v in iter_tlv(fcp[2:]) if t == 0x80), "big")
    content = d.ok(bytes([0, 0xB0, 0, 0, size]))
    fields = [v.decode() for _, v in iter_tlv(next(v for t, v in iter_tlv(content) if t == 0x30))]
    assert len(fields) == len(DATA_OBJECT_FIELDS["CPS_ACTIVITY_nn_PS"])
    assert fields[3] == "PHARMACIE DE LA GARE"


def test_log_masks_codes(d: Driver) -> None:
    d.verify_pin("1234")
    lines = [entry.line() for entry in d.card.log]
    assert any("VERIFY ref 01" in line and "** ** ** **" in line for line in lines)
    assert all("31 32 33 34" not in line for line in lines)
    assert all(b"1234" not in entry.command for entry in d.card.log)


def test_update_binary_on_cps_data_only(d: Driver) -> None:
    d.ok("00 A4 04 04 0D" + APP_AID)
    d.ok("00 A4 02 04 02 71 06")
    d.ok("00 D6 00 00 03 41 42 43")
    assert d.ok("00 B0 00 00 03") == b"ABC"
    assert d.send("00 D6 01 FF 02 41 42")[1] == 0x6700
    d.ok("00 A4 02 04 02 71 03")
    assert d.send("00 D6 00 00 01 41")[1] == 0x6986


# -- profiles -------------------------------------------------------------------------------------------
def test_builtin_profiles_load(session_pki: Pki) -> None:
    for name, national_id in (("pharmacist", "899700075122"), ("doctor", "899700209812"), ("nurse", "0756012345")):
        profile = load_profile(name)
        assert profile.holder.national_id == national_id
        assert profile.pin.value == "1234" and profile.puk.value == "12345678"
        make_card(profile, session_pki)


def test_profile_errors_name_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "holder:\n  civility: M\n  first_name: A\n  last_name: B\n  profession: '99'\n  rpps: '99700209813'\n"
        "pin: {value: '12'}\nfaults:\n  status_words: {FOO: '6F00'}\n"
    )
    with pytest.raises(DataFileError) as caught:
        load_profile(bad)
    text = str(caught.value)
    assert f"{bad}:5: holder.profession:" in text and "unknown TRE_G15 code" in text
    assert f"{bad}:7: pin:" in text and "has 4 digits" in text
    assert f"{bad}:9: faults.status_words:" in text and "instruction 'FOO'" in text
    bad.write_text("holder: [unclosed\n")
    with pytest.raises(DataFileError, match=r"bad.yaml:2: not valid YAML"):
        load_profile(bad)
    with pytest.raises(FileNotFoundError, match=r"a built-in name \(doctor, nurse, pharmacist\)"):
        load_profile("astronaut")


def test_each_certificate_of_a_profile_has_its_own_variant(session_pki: Pki, tmp_path: Path) -> None:
    """``certificates: {authentication: expired}``: the signature one, omitted, is valid; the card's files
    A001 and A002 hold each certificate as it was issued."""
    text = (REPO / "harness/card/profiles/pharmacist.yaml").read_text()
    path = tmp_path / "mixed.yaml"
    path.write_text(text.replace("certificates: valid ", "certificates: {authentication: expired}"))
    profile = load_profile(path)
    assert profile.certificates.variants() == CertVariants(CertVariant.EXPIRED, CertVariant.VALID)
    assert str(profile.certificates) == "authentication expired, signature valid"
    card, credentials = make_card(profile, session_pki)
    assert credentials.variants == profile.certificates.variants()
    d = Driver(card)
    d.ok("00 A4 04 04 0D" + APP_AID)
    for file_id, issued in (("A0 01", credentials.authentication), ("A0 02", credentials.signature)):
        size = int.from_bytes(d.ok("00 A4 02 04 02 " + file_id).split(h("80 02"), 1)[1][:2], "big")
        read = b"".join(d.ok(bytes([0, 0xB0, o >> 8, o & 0xFF, min(0xE7, size - o)])) for o in range(0, size, 0xE7))
        assert x509.load_der_x509_certificate(read) == issued.certificate
    now = credentials.signature.certificate.not_valid_before_utc + dt.timedelta(days=1)
    assert credentials.authentication.certificate.not_valid_after_utc < now, "expired"
    assert now < credentials.signature.certificate.not_valid_after_utc, "valid"


@pytest.mark.parametrize(
    ("written", "line", "field", "says"),
    [
        ("certificates: lost", 17, "certificates", "'lost' is not a certificate variant"),
        ("certificates:\n  authentication: lost", 18, "certificates.authentication", "Input should be 'valid'"),
        ("certificates:\n  signatur: valid", 18, "certificates.signatur", "did you mean 'signature'? it takes:"),
        ("certificates: {}", 17, "certificates", "give authentication, signature or both"),
    ],
)
def test_certificate_variant_errors_name_file_line_and_field(
    tmp_path: Path, written: str, line: int, field: str, says: str
) -> None:
    text = (REPO / "harness/card/profiles/pharmacist.yaml").read_text()
    assert text.splitlines()[16].startswith("certificates: valid ")
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("certificates: valid ", written + "\n#"))
    with pytest.raises(DataFileError) as caught:
        load_profile(path)
    assert str(caught.value).startswith(f"{path}:{line}: {field}: "), str(caught.value)
    assert says in str(caught.value)


def test_rpps_check_digit_is_enforced() -> None:
    data = load_profile("doctor").model_dump()
    data["holder"]["rpps"] = "99700209813"
    with pytest.raises(ValueError, match="Luhn"):
        CardProfile.model_validate(data)


def test_profiles_can_start_blocked(session_pki: Pki, tmp_path: Path) -> None:
    """GC-02/GC-03 start states: a PIN already blocked, a PUK already exhausted."""
    text = (REPO / "harness/card/profiles/pharmacist.yaml").read_text()
    blocked = tmp_path / "blocked.yaml"
    blocked.write_text(
        text.replace('pin: {value: "1234"}', 'pin: {value: "1234", tries_left: 0}').replace(
            'puk: {value: "12345678"}', 'puk: {value: "12345678", tries_left: 0}'
        )
    )
    d = Driver(make_card(load_profile(blocked), session_pki)[0])
    assert d.send("00 20 00 01 00")[1] == 0x6983
    assert d.verify_pin() == 0x6983
    assert d.send("00 2C 00 01 0C" + "3132333435363738" + "31313131")[1] == 0x6983
    too_many = tmp_path / "too-many.yaml"
    too_many.write_text(text.replace('pin: {value: "1234"}', 'pin: {value: "1234", tries_left: 5}'))
    with pytest.raises(DataFileError, match="tries_left cannot exceed max_tries"):
        load_profile(too_many)


@pytest.mark.parametrize("digest_bytes", [20, 28, 32, 48, 64])
def test_digest_info_signatures_are_the_same_bytes_by_openssl_and_by_hand(digest_bytes: int) -> None:
    """The OpenSSL fast path gives exactly the card's own PKCS#1 type-1 block raised to d."""
    from simulators.card.security import DIGEST_INFOS, KeyUse, RsaKey

    prefix = next(p for p, algorithm in DIGEST_INFOS if algorithm.digest_size == digest_bytes)
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = RsaKey(0x81, private, KeyUse.AUTHENTICATION, 0, 0, 0)
    data = prefix + bytes(range(digest_bytes))
    k = private.key_size // 8
    block = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
    numbers = private.private_numbers()
    by_hand = pow(int.from_bytes(block, "big"), numbers.d, numbers.public_numbers.n).to_bytes(k, "big")
    assert key.sign_pkcs1(data) == by_hand
    other = prefix[:-1] + bytes([prefix[-1] + 1]) + bytes(digest_bytes + 1)  # not a DigestInfo: the CRT path
    assert (
        pow(int.from_bytes(key.sign_pkcs1(other), "big"), 65537, numbers.public_numbers.n).to_bytes(k, "big")[
            -len(other) :
        ]
        == other
    )
