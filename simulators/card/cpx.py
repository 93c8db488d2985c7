"""The CPx applet: an IAS-ECC CPS3 card as OpenSC 0.23's ``iasecc`` driver drives it. Sans-IO.

``CpxCard.process(apdu) -> response`` is the whole interface; ``power_on()`` gives the ATR and
clears the volatile state (verified CHVs, security environment, selections), nothing else.
Byte-level behaviour follows ``docs/card-cpx-apdu.md`` as corrected by the observed traces,
with OpenSC's ``card-iasecc.c``/``iasecc-sdo.c`` as the authority where they disagree.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import rsa

from simulators.card import pkcs15
from simulators.card.apdu import SW, CardError, Command, parse, remaining_sw, response, wrong_le_sw
from simulators.card.faults import Faults
from simulators.card.fs import DF, EF
from simulators.card.log import LogEntry
from simulators.card.security import Chv, KeyUse, Security
from simulators.card.tlv import TlvError, iter_tlv, read_tag, tlv

ATR = bytes.fromhex("3BAC00402A001225006480000310009000")
"""CPS3 "CPx" ATR: T=0 only (TD1 = 40), matched by OpenSC's iasecc driver as "IAS/ECC CPx"."""

SDO_CLASS_CHV = 0x01
SDO_CLASS_RSA_PRIVATE = 0x10
SDO_CLASS_SE = 0x7B
CHV_AMB = 0xF3
"""CHV access modes: change, verify, reset, put data, get data (as a real CPS3 answers)."""

Handler = Callable[["CpxCard", Command], bytes]


@dataclass
class Chain:
    """Command chaining in progress (CLA 10): the INS/P1/P2 it is for and the data so far."""

    ins: int
    p1p2: int
    data: bytearray


class CpxCard:
    """One card: its file tree, security objects, options and log. Not thread-safe: one reader."""

    def __init__(
        self,
        mf: DF,
        security: Security,
        *,
        t0_get_response: bool = True,
        faults: Faults | None = None,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        log_size: int = 10_000,
    ) -> None:
        self.mf = mf
        self.security = security
        self.t0_get_response = t0_get_response
        """True: answer case-4 data with 61xx and GET RESPONSE, like the real card (T=0)."""
        self.faults = faults or Faults()
        self.random_bytes = random_bytes
        self.log: deque[LogEntry] = deque(maxlen=log_size)
        self.wrong_key: rsa.RSAPrivateKey | None = None
        """The key a ``wrong_key_signature`` fault signs with (made on first use if absent)."""
        self.current_df: DF = mf
        self.current_ef: EF | None = None
        self._pending = b""
        self._chain: Chain | None = None
        self.power_on()

    # -- power -------------------------------------------------------------------------------
    def power_on(self) -> bytes:
        """Power-up or reset: volatile state cleared, counters and files kept. Returns the ATR."""
        self.security.reset()
        self.current_df, self.current_ef = self.mf, None
        self._pending, self._chain = b"", None
        return ATR

    # -- the one entry point -------------------------------------------------------------------
    def process(self, apdu: bytes) -> bytes:
        """Answer one command APDU with data and a status word; never raises."""
        try:
            answer = self._answer(parse(apdu))
        except CardError as exc:
            answer = response(sw=exc.sw)
        self.log.append(LogEntry.record(apdu, answer))
        return answer

    def _answer(self, command: Command) -> bytes:
        if command.ins in self.faults.forced_sw:
            self._pending = b""
            return response(sw=self.faults.forced_sw[command.ins])
        if command.ins != 0xC0:
            self._pending = b""
        if self._chain is not None and (command.ins, command.p1p2) != (self._chain.ins, self._chain.p1p2):
            self._chain = None  # another command breaks the chain
        try:
            sw_error = self._check_class(command)
            if sw_error:
                return response(sw=sw_error)
            handler = INSTRUCTIONS.get(command.ins)
            if handler is None:
                return response(sw=SW.INS_NOT_SUPPORTED)
            data = handler(self, command)
        except CardError as exc:
            return response(exc.data, exc.sw)
        except Exception:  # a bug must not crash the reader: the card answers "no precise diagnosis"
            return response(sw=SW.UNKNOWN)
        return self._deliver(command, data)

    @staticmethod
    def _check_class(command: Command) -> int:
        cla = command.cla
        if cla & 0x80:
            return SW.CLA_NOT_SUPPORTED  # proprietary classes (CPS2ter's A0 side is not simulated)
        if cla & 0x0C:
            return SW.SECURE_MESSAGING_NOT_SUPPORTED
        if cla & 0x03:
            return SW.LOGICAL_CHANNEL_NOT_SUPPORTED
        if cla & 0x60:
            return SW.CLA_NOT_SUPPORTED
        if command.chained and command.ins not in CHAINABLE:
            return 0x6884  # command chaining not supported
        return 0

    def _deliver(self, command: Command, data: bytes) -> bytes:
        """Outgoing data the T=0 way: case-2 commands answer at once, case-4 ones through 61xx."""
        if not data:
            return response()
        if command.ins in CASE_2:
            return response(data)
        if self.t0_get_response:
            self._pending = data
            return response(sw=remaining_sw(len(data)))
        return response(data)

    # -- helpers -----------------------------------------------------------------------------------
    def _sdo_answer(self, sdo_tag: int, *content: bytes) -> bytes:
        return tlv(0x70, tlv(sdo_tag, *content))

    def _signing_key(self, default: rsa.RSAPrivateKey) -> rsa.RSAPrivateKey:
        if not self.faults.wrong_key_signature:
            return default
        if self.wrong_key is None:
            self.wrong_key = rsa.generate_private_key(public_exponent=65537, key_size=default.key_size)
        return self.wrong_key


# -- SELECT ---------------------------------------------------------------------------------------
def _fids(data: bytes) -> list[int]:
    if not data or len(data) % 2:
        raise CardError(SW.WRONG_LENGTH, "a path is a sequence of 2-byte file ids")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _one_fid(data: bytes) -> int:
    if len(data) != 2:
        raise CardError(SW.WRONG_LENGTH, "one 2-byte file id expected")
    return int.from_bytes(data, "big")


def _walk(start: DF, fids: list[int]) -> EF | DF:
    node: EF | DF = start
    for fid in fids:
        if not isinstance(node, DF):
            raise CardError(SW.FILE_NOT_FOUND, "path goes through an EF")
        found = node.child(fid)
        if found is None:
            raise CardError(SW.FILE_NOT_FOUND, f"{fid:04X} not in {node.fid:04X}")
        node = found
    return node


def _by_name(mf: DF, name: bytes) -> DF:
    for df in mf.walk():
        if df.name == name:
            return df
    raise CardError(SW.FILE_NOT_FOUND, f"no DF named {name.hex()}")


def select(card: CpxCard, c: Command) -> bytes:
    if c.p2 not in (0x00, 0x04, 0x0C):
        raise CardError(SW.INCORRECT_P1P2, "only FCP (00/04) or no data (0C)")
    mf = card.mf
    if c.p1 == 0x00:
        if not c.data or c.data == b"\x3f\x00":
            target: EF | DF = mf
        else:
            fid = _one_fid(c.data)
            target = card.current_df.child(fid) or _walk(mf, [fid])
    elif c.p1 in (0x01, 0x02):
        fid = _one_fid(c.data)
        if fid == 0x3F00:
            target = mf
        else:
            found = card.current_df.child(fid)
            if found is None or (c.p1 == 0x01 and not isinstance(found, DF)):
                raise CardError(SW.FILE_NOT_FOUND, f"{fid:04X} not in the current DF")
            target = found
    elif c.p1 == 0x03:
        if c.data:
            raise CardError(SW.WRONG_LENGTH, "select parent takes no data")
        target = card.current_df.parent or mf
    elif c.p1 == 0x04:
        if not c.data:
            raise CardError(SW.WRONG_LENGTH, "select by name needs a name")
        target = _by_name(mf, c.data)
    elif c.p1 == 0x08:
        target = _walk(mf, _fids(c.data))
    elif c.p1 == 0x09:
        fids = _fids(c.data)
        # CPx keeps 3F00 in its paths: a leading 3F00 makes the path absolute.
        target = _walk(mf, fids[1:]) if fids[0] == 0x3F00 else _walk(card.current_df, fids)
    else:
        raise CardError(SW.INCORRECT_P1P2, f"select P1={c.p1:02X}")
    if isinstance(target, DF):
        card.current_df, card.current_ef = target, None
    else:
        card.current_df, card.current_ef = target.parent or mf, target
    if c.p2 == 0x0C or (c.p1 == 0x04 and c.p2 == 0x00):
        return b""  # a real CPS3 answers SELECT by DF name with P2=00 by a bare 9000 (issue 2223)
    return target.fcp()


# -- READ / UPDATE BINARY ---------------------------------------------------------------------
def _binary_target(card: CpxCard, c: Command) -> tuple[EF, int]:
    if c.p1 & 0x80:
        if c.p1 & 0x60:
            raise CardError(SW.INCORRECT_P1P2, "bad SFI byte")
        ef = card.current_df.by_sfi(c.p1 & 0x1F) or card.mf.by_sfi(c.p1 & 0x1F)
        if ef is None:
            raise CardError(SW.FILE_NOT_FOUND, f"no EF with SFI {c.p1 & 0x1F:02X}")
        card.current_ef = ef
        return ef, c.p2
    if card.current_ef is None:
        raise CardError(SW.COMMAND_INCOMPATIBLE, "no current EF")
    return card.current_ef, ((c.p1 & 0x7F) << 8) | c.p2


def read_binary(card: CpxCard, c: Command) -> bytes:
    wanted = c.expected
    if wanted is None or c.data:
        raise CardError(SW.WRONG_LENGTH, "READ BINARY is case 2: P3 is Le")
    ef, offset = _binary_target(card, c)
    card.security.require(ef.access.read)
    if offset >= ef.length:
        raise CardError(SW.WRONG_P1P2, "offset beyond the end of the file")
    available = ef.length - offset
    if available < wanted:
        if card.t0_get_response:
            raise CardError(wrong_le_sw(available), "Le too long")
        raise CardError(SW.END_OF_FILE, "end of file before Le", bytes(ef.content[offset:]))
    return bytes(ef.content[offset : offset + wanted])


def update_binary(card: CpxCard, c: Command) -> bytes:
    if not c.data:
        raise CardError(SW.WRONG_LENGTH, "UPDATE BINARY needs data")
    ef, offset = _binary_target(card, c)
    card.security.require(ef.access.update)
    if offset + len(c.data) > ef.length:
        raise CardError(SW.WRONG_LENGTH, "write past the end of the file")
    ef.content[offset : offset + len(c.data)] = c.data
    return b""


# -- GET RESPONSE, GET CHALLENGE ---------------------------------------------------------------
def get_response(card: CpxCard, c: Command) -> bytes:
    if c.p1p2 != 0:
        raise CardError(SW.WRONG_P1P2, "GET RESPONSE takes P1=P2=00")
    wanted = c.expected
    pending = card._pending
    if not pending:
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "nothing to get")
    if wanted is None:
        raise CardError(SW.WRONG_LENGTH, "GET RESPONSE needs Le")
    if wanted > len(pending):
        card._pending = pending
        raise CardError(wrong_le_sw(len(pending)), "Le too long")
    card._pending = pending[wanted:]
    if card._pending:
        raise CardError(remaining_sw(len(card._pending)), "more data", pending[:wanted])
    return pending[:wanted]


def get_challenge(card: CpxCard, c: Command) -> bytes:
    if c.p1p2 != 0:
        raise CardError(SW.WRONG_P1P2, "GET CHALLENGE takes P1=P2=00")
    if c.expected is None or c.data:
        raise CardError(SW.WRONG_LENGTH, "GET CHALLENGE is case 2")
    return card.random_bytes(c.expected)


# -- GET DATA on SDOs (00 CB 3F FF 4D …) ----------------------------------------------------------
def get_data(card: CpxCard, c: Command) -> bytes:
    if c.p1p2 != 0x3FFF:
        raise CardError(SW.INCORRECT_P1P2, "GET DATA serves SDOs at 3FFF only")
    try:
        header = dict(iter_tlv(c.data)).get(0x4D)
        if header is None:
            raise CardError(SW.WRONG_DATA, "no 4D extended header list")
        inner = dict(iter_tlv(header)).get(0x70)
        if inner is None:
            raise CardError(SW.WRONG_DATA, "no 70 template")
        [(sdo_tag, wanted)] = list(iter_tlv(inner))
        part, end = read_tag(wanted, 0)
    except (TlvError, ValueError) as exc:
        raise CardError(SW.WRONG_DATA, "malformed header list") from exc
    if end >= len(wanted) or wanted[end] != 0x80 or sdo_tag >> 16 != 0xBF:
        raise CardError(SW.WRONG_DATA, "expected BF <class> <ref> { <tag> 80 }")
    sdo_class, ref = (sdo_tag >> 8) & 0x7F, sdo_tag & 0xFF
    sec = card.security
    if sdo_class == SDO_CLASS_CHV and ref in sec.chvs:
        chv = sec.chvs[ref]
        if part == 0x7F41:
            return card._sdo_answer(
                sdo_tag, tlv(0x7F41, tlv(0x80, bytes([chv.max_length])), tlv(0x81, bytes([chv.min_length])))
            )
        if part == 0xA0:
            acl = tlv(0xA1, tlv(0x8C, bytes([CHV_AMB, chv.change_scb, 0x00, chv.reset_scb, 0xFF, 0x00])))
            counters = [tlv(0x9A, bytes([chv.max_tries])), tlv(0x9B, bytes([chv.tries_left]))]
            if chv.usages_left is not None:
                counters.append(tlv(0x9D, chv.usages_left.to_bytes(2, "big")))
            return card._sdo_answer(sdo_tag, tlv(0xA0, *counters, acl))
    elif sdo_class == SDO_CLASS_RSA_PRIVATE and (ref | 0x80) in sec.keys and part == 0xA0:
        key = sec.keys[ref | 0x80]
        scbs = bytes([key.scb_pso_sign, key.scb_int_auth, key.scb_decipher, 0xFF, 0xFF, 0x00])
        return card._sdo_answer(
            sdo_tag,
            tlv(0xA0, tlv(0xA1, tlv(0x8C, bytes([0x7B]) + scbs)), tlv(0x80, key.size_bytes.to_bytes(2, "big"))),
        )
    elif sdo_class == SDO_CLASS_SE:
        # The card's SEs live in the MF: a real CPS3 answers 6A88 from any other DF, and the
        # same GET DATA succeeds once the MF is selected (OpenSC issue 2275).
        se = sec.environments.get(ref) if card.current_df is card.mf else None
        if se is None or part != 0x7B:
            raise CardError(SW.REFERENCED_DATA_NOT_FOUND, f"no SE {ref:02X} in DF {card.current_df.fid:04X}")
        if se.chv_reference is None:
            return b""  # an SE with no user authentication template: the bare 9000 recorded for SE #5
        crt = tlv(0xA4, tlv(0x83, bytes([se.chv_reference])), tlv(0x95, b"\x08"))
        return card._sdo_answer(sdo_tag, tlv(0x7B, crt))
    # What the card does not serve is "wrong data": OpenSC retries with A0 on 6A80, and
    # treats 6A88 as fatal.
    raise CardError(SW.WRONG_DATA, f"SDO {sdo_tag:06X} part {part:X} not served")


# -- CHVs: VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER ---------------------------------------
def _chv(card: CpxCard, ref: int) -> Chv:
    chv = card.security.chvs.get(ref)
    if chv is None:
        raise CardError(SW.REFERENCED_DATA_NOT_FOUND, f"no CHV {ref:02X}")
    return chv


def verify(card: CpxCard, c: Command) -> bytes:
    if c.p1 == 0xFF and not c.data:
        _chv(card, c.p2).verified = False  # ISO 7816-4: reset the verification status
        return b""
    if c.p1 != 0x00:
        raise CardError(SW.INCORRECT_P1P2, "VERIFY P1 must be 00")
    chv = _chv(card, c.p2)
    if not c.data:
        sw = chv.status_sw()
        if sw != SW.OK:
            raise CardError(sw, "status")
        return b""
    chv.verify(c.data)
    return b""


def change_reference_data(card: CpxCard, c: Command) -> bytes:
    chv = _chv(card, c.p2)
    card.security.require(chv.change_scb)
    if c.p1 == 0x00:
        padded = chv.padded_length
        old_length = padded if padded is not None and len(c.data) == 2 * padded else len(chv.value)
        if len(c.data) <= old_length:
            raise CardError(SW.WRONG_LENGTH, "old and new codes expected")
        old, new = c.data[:old_length], chv.unpad(c.data[old_length:])
        chv.check_format(new)
        chv.verify(old)
    elif c.p1 == 0x01:
        if not chv.verified:
            raise CardError(SW.SECURITY_STATUS_NOT_SATISFIED, "verify first")
        new = chv.unpad(c.data)
        chv.check_format(new)
    else:
        raise CardError(SW.INCORRECT_P1P2, "CHANGE REFERENCE DATA P1 00 or 01")
    chv.value = new
    chv.verified = True
    return b""


def reset_retry_counter(card: CpxCard, c: Command) -> bytes:
    """P1=02 (OpenSC's form): new code only, once the PUK was verified; P1=00/01: PUK inline."""
    target = _chv(card, c.p2)
    sec = card.security
    if target.reset_scb == 0xFF:
        raise CardError(SW.COMMAND_NOT_ALLOWED, "this code cannot be unblocked")
    se = sec.environments.get(target.reset_scb & 0x0F)
    unblocker = sec.chvs.get(se.chv_reference) if se and se.chv_reference is not None else None
    if unblocker is None:
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "no unblocking code")
    if c.p1 in (0x00, 0x01):
        puk_length = len(unblocker.value)
        if len(c.data) < puk_length or (c.p1 == 0x01 and len(c.data) != puk_length):
            raise CardError(SW.WRONG_LENGTH, "PUK expected")
        new = target.unpad(c.data[puk_length:]) if c.p1 == 0x00 else None
        if new is not None:
            target.check_format(new)
        unblocker.verify(c.data[:puk_length])
    elif c.p1 in (0x02, 0x03):
        sec.require(target.reset_scb)
        new = c.data if c.p1 == 0x02 else None
        if c.p1 == 0x02 and not new:
            raise CardError(SW.WRONG_LENGTH, "new code expected")
        if c.p1 == 0x03 and c.data:
            raise CardError(SW.WRONG_LENGTH, "P1=03 takes no data")
    else:
        raise CardError(SW.INCORRECT_P1P2, "RESET RETRY COUNTER P1 00-03")
    target.unblock(new)
    return b""


# -- MSE, INTERNAL AUTHENTICATE, PSO ----------------------------------------------------------------
def manage_security_environment(card: CpxCard, c: Command) -> bytes:
    current = card.security.current
    if c.p1 == 0xF3:  # RESTORE: back to the default (empty) environment
        current.clear()
        return b""
    if c.p1 != 0x41:
        raise CardError(SW.INCORRECT_P1P2, "MSE SET (41) or RESTORE (F3)")
    try:
        fields = dict(iter_tlv(c.data))
    except TlvError as exc:
        raise CardError(SW.WRONG_DATA, "malformed CRT") from exc
    key_ref = fields.get(0x84)
    alg = fields.get(0x80)
    if c.p2 == 0xAA:  # HT: the hash algorithm for PSO HASH, no key
        if alg is None or len(alg) != 1 or alg[0] not in HASH_LENGTH_BY_ALG:
            raise CardError(SW.WRONG_DATA, "HT needs 80 01 <SHA-1 10 | SHA-256 40>")
        current.hash_alg, current.hash_value = alg[0], None
        return b""
    if key_ref is None or alg is None or len(key_ref) != 1 or len(alg) != 1:
        raise CardError(SW.WRONG_DATA, "CRT needs 84 01 <key> and 80 01 <alg>")
    key = card.security.keys.get(key_ref[0])
    if key is None:
        raise CardError(SW.REFERENCED_DATA_NOT_FOUND, f"no key {key_ref[0]:02X}")
    if c.p2 == 0xA4:
        if key.use is not KeyUse.AUTHENTICATION or alg[0] != pkcs15.ALG_RSA_PKCS_SIGN:
            raise CardError(SW.WRONG_DATA, "authentication needs the auth key and RSA-PKCS")
        current.auth_key, current.auth_alg = key.reference, alg[0]
    elif c.p2 == 0xB8:
        if key.use is not KeyUse.AUTHENTICATION or alg[0] != pkcs15.ALG_RSA_PKCS_DECIPHER:
            raise CardError(SW.WRONG_DATA, "decipherment needs the auth key and RSA-PKCS")
        current.decipher_key, current.decipher_alg = key.reference, alg[0]
    elif c.p2 == 0xB6:
        if key.use is not KeyUse.NON_REPUDIATION or alg[0] not in DIGEST_INFO_BY_SIGN_ALG:
            raise CardError(SW.WRONG_DATA, "DST needs the signature key and SHA1/SHA256-RSA")
        current.sign_key, current.sign_alg = key.reference, alg[0]
    else:
        raise CardError(SW.FUNCTION_NOT_SUPPORTED, f"CRT {c.p2:02X} not supported")
    return b""


def internal_authenticate(card: CpxCard, c: Command) -> bytes:
    if c.p1p2 != 0:
        raise CardError(SW.WRONG_P1P2, "INTERNAL AUTHENTICATE takes P1=P2=00")
    if not c.data:
        raise CardError(SW.WRONG_LENGTH, "nothing to sign")
    ref = card.security.current.auth_key
    if ref is None:
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "no key set by MSE")
    key = card.security.keys[ref]
    card.security.require(key.scb_int_auth)
    return key.sign_pkcs1(c.data, card._signing_key(key.key))


def perform_security_operation(card: CpxCard, c: Command) -> bytes:
    operation = PSO_OPERATIONS.get(c.p1p2)
    if operation is None:
        raise CardError(SW.FUNCTION_NOT_SUPPORTED, f"PSO {c.p1p2:04X} not supported")
    return operation(card, c)


def _pso_decipher(card: CpxCard, c: Command) -> bytes:
    if not c.data:
        raise CardError(SW.WRONG_LENGTH, "no cryptogram")
    if c.chained:
        if card._chain is None:
            card._chain = Chain(c.ins, c.p1p2, bytearray())
        card._chain.data += c.data
        if len(card._chain.data) > 4096:
            card._chain = None
            raise CardError(SW.WRONG_LENGTH, "chain too long")
        return b""
    data = bytes(card._chain.data + c.data) if card._chain else c.data
    card._chain = None
    ref = card.security.current.decipher_key
    if ref is None:
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "no key set by MSE")
    key = card.security.keys[ref]
    card.security.require(key.scb_decipher)
    if data[0] != 0x81:
        raise CardError(SW.WRONG_DATA, "padding indicator 81 expected")
    return key.decipher_pkcs1(data[1:])


def _pso_hash(card: CpxCard, c: Command) -> bytes:
    """Two forms: the host gives the final hash (``90 L <hash>``, OpenSC's), or the card hashes the
    message itself (``90 00 80 L <message>``: no intermediate state, then the last block — the ANS
    middleware's form, OpenSC issue 2275). Either way the card keeps the hash for PSO CDS."""
    current = card.security.current
    if current.hash_alg is None:
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "no hash algorithm set by MSE HT")
    try:
        fields = dict(iter_tlv(c.data))
    except TlvError as exc:
        raise CardError(SW.WRONG_DATA, "malformed hash template") from exc
    value, message = fields.get(0x90), fields.get(0x80)
    if message is not None:
        if value:  # continuing from an intermediate hash state: not what any known host sends
            raise CardError(SW.WRONG_DATA, "an intermediate hash state is not supported")
        value = hashlib.new(HASH_NAME_BY_ALG[current.hash_alg], message).digest()
    if value is None or len(value) != HASH_LENGTH_BY_ALG[current.hash_alg]:
        raise CardError(SW.WRONG_DATA, "90 <final hash> of the HT algorithm's length, or 90 00 80 <message>")
    current.hash_value = value
    return b""


def _pso_compute_signature(card: CpxCard, c: Command) -> bytes:
    current = card.security.current
    if current.sign_key is None or current.sign_alg is None:
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "no key set by MSE DST")
    if c.data:
        raise CardError(SW.WRONG_LENGTH, "PSO CDS signs the hash given by PSO HASH")
    prefix = DIGEST_INFO_BY_SIGN_ALG[current.sign_alg]
    expected = 20 if current.sign_alg == pkcs15.ALG_SHA1_RSA else 32
    if current.hash_value is None or len(current.hash_value) != expected:
        raise CardError(SW.CONDITIONS_NOT_SATISFIED, "no hash of the right algorithm from PSO HASH")
    key = card.security.keys[current.sign_key]
    card.security.require(key.scb_pso_sign)
    signature = key.sign_pkcs1(prefix + current.hash_value, card._signing_key(key.key))
    current.hash_value = None
    return signature


PSO_OPERATIONS: dict[int, Handler] = {0x8086: _pso_decipher, 0x90A0: _pso_hash, 0x9E9A: _pso_compute_signature}
HASH_LENGTH_BY_ALG = {pkcs15.ALG_SHA1: 20, pkcs15.ALG_SHA256: 32}
HASH_NAME_BY_ALG = {pkcs15.ALG_SHA1: "sha1", pkcs15.ALG_SHA256: "sha256"}
DIGEST_INFO_BY_SIGN_ALG = {
    pkcs15.ALG_SHA1_RSA: bytes.fromhex("3021300906052B0E03021A05000414"),
    pkcs15.ALG_SHA256_RSA: bytes.fromhex("3031300D060960864801650304020105000420"),
}


INSTRUCTIONS: dict[int, Handler] = {
    0xA4: select,
    0xB0: read_binary,
    0xD6: update_binary,
    0xC0: get_response,
    0x84: get_challenge,
    0xCB: get_data,
    0x20: verify,
    0x24: change_reference_data,
    0x2C: reset_retry_counter,
    0x22: manage_security_environment,
    0x88: internal_authenticate,
    0x2A: perform_security_operation,
}
CASE_2 = frozenset({0xB0, 0xC0, 0x84})
"""Commands whose data comes back at once even on T=0 (P3 is their Le)."""
CHAINABLE = frozenset({0x2A})
