"""The card's PKCS#15 structures (ISO 7816-15), in a real CPS3's shapes, which OpenSC 0.23 parses.

Where a real card's bytes are public (``card-cpx-real-cards.md``: the AODF whole, the CDF's first
64 bytes, TokenInfo and PrKDF as pkcs15-tool decoded them) these functions rebuild them byte for
byte, quirks included: the CommonObjectFlags of the AODF and CDF are BIT STRINGs that claim 8
unused bits (``03 01 08``, ``03 02 08 00``), not valid DER, which OpenSC reads as "no flags".
Elsewhere the shapes come from ``docs/card-cpx-apdu.md`` §3 as corrected by the observed traces:
the PrKDF ``value`` must be a present empty path (``30 02 04 00``; ``30 00`` makes OpenSC drop
the whole PrKDF silently), TokenInfo must list supportedAlgorithms (without them OpenSC cannot
sign), and no PuKDF is published (OpenSC takes public key parts from the certificates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from simulators.card.tlv import tlv

APP_AID = bytes.fromhex("E828BD080F8025000001FF0010")
"""The CPS3 IAS-ECC contact application."""
CL_APP_AID = bytes.fromhex("E828BD080F8025000001FF0020")
"""The contactless application EF.DIR also names."""
ROOT_AID = bytes.fromhex("8025000001FF0100")
"""The MF's DF name, announced in EF.ATR."""
MANUFACTURER = "ASIP SANTE"

# supportedAlgorithms references (MSE SET ``80 01 <algRef>``), as the real card and OpenSC's
# CPx defaults use them.
ALG_SHA1, ALG_SHA256 = 0x10, 0x40
ALG_SHA1_RSA, ALG_SHA256_RSA = 0x12, 0x42
ALG_RSA_PKCS_SIGN = 0x02
ALG_RSA_PKCS_DECIPHER = 0x1A

CKM_RSA_PKCS, CKM_SHA1_RSA_PKCS, CKM_SHA256_RSA_PKCS = 0x01, 0x06, 0x40
CKM_SHA_1, CKM_SHA256 = 0x220, 0x250


def der_int(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big"))


def utf8(text: str) -> bytes:
    return tlv(0x0C, text.encode())


def octets(data: bytes) -> bytes:
    return tlv(0x04, data)


def bits(unused: int, *data: int) -> bytes:
    """A BIT STRING given as its unused-bit count and content bytes, as the specs write them."""
    return tlv(0x03, bytes([unused, *data]))


def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, bytes(body))


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, *parts)


def path(fid: int | None) -> bytes:
    """A Path: a file id in the application DF, or the empty path (the application itself)."""
    return seq(octets(b"" if fid is None else fid.to_bytes(2, "big")))


def bit_field(*positions: int) -> bytes:
    """A named-bit BIT STRING in minimal DER: bit ``n`` is the n-th from the first byte's MSB."""
    if not positions:
        return bits(0)
    top = max(positions)
    content = bytearray(top // 8 + 1)
    for n in positions:
        content[n // 8] |= 0x80 >> (n % 8)
    return bits(7 - top % 8, *content)


PRIVATE_FLAG = bits(7, 0x80)
NO_FLAGS_AODF = bytes.fromhex("030108")
"""A real CPS3's AODF CommonObjectFlags: 1 byte claiming 8 unused bits (invalid DER, no flag)."""
NO_FLAGS_CDF = bytes.fromhex("03020800")
"""A real CPS3's CDF CommonObjectFlags: the same quirk with one zero content byte."""

# AccessMode bits as OpenSC numbers them (SC_PKCS15_ACCESS_RULE_MODE_*, bit n = 1 << n).
MODE_READ, MODE_UPDATE, MODE_EXECUTE, MODE_ATTRIBUTE = 0, 1, 2, 4
MODE_PSO_CDS, MODE_PSO_DECRYPT, MODE_INT_AUTH = 5, 7, 9

# PinFlags (ISO 7816-15).
PIN_LOCAL, PIN_UNBLOCK_DISABLED, PIN_INITIALIZED, PIN_NEEDS_PADDING = 1, 3, 4, 5
PIN_UNBLOCKING, PIN_SO, PIN_EXCHANGE_REF_DATA = 6, 7, 11


@dataclass(frozen=True)
class AccessRule:
    """One accessControlRule: what may be done (AccessMode bits) under which PIN (None: always)."""

    modes: tuple[int, ...]
    auth_id: int | None = None

    def der(self) -> bytes:
        condition = tlv(0x05, b"") if self.auth_id is None else octets(bytes([self.auth_id]))
        return seq(bit_field(*self.modes), condition)


def access_rules(rules: Sequence[AccessRule]) -> bytes:
    return seq(*(rule.der() for rule in rules)) if rules else b""


@dataclass(frozen=True)
class PinInfo:
    label: str
    auth_id: int
    reference: int
    min_length: int
    stored_length: int
    max_length: int
    flags: tuple[int, ...] = (PIN_INITIALIZED,)
    """PinFlags bits (``PIN_*``)."""
    pad_char: int | None = None
    protected_by: int | None = None
    """CommonObjectAttributes.authId. OpenSC takes it for the PUK that unblocks this PIN (the
    "authId route"); on a real CPS3 the PIN's says ``02``, which no object has, so OpenSC
    unblocks through the security environment instead (the "SE route")."""
    rules: tuple[AccessRule, ...] = ()
    common_flags: bytes = NO_FLAGS_AODF


@dataclass(frozen=True)
class KeyInfo:
    label: str
    key_id: bytes
    reference: int
    modulus_bits: int
    non_repudiation: bool
    auth_id: int
    rules: tuple[AccessRule, ...] = ()


@dataclass(frozen=True)
class CertInfo:
    label: str
    key_id: bytes
    fid: int
    rules: tuple[AccessRule, ...] = ()


@dataclass(frozen=True)
class DataInfo:
    label: str
    fid: int
    application: str
    auth_id: int | None = None
    """Set for objects the card only reads after the PIN (activities, billing situation)."""
    modifiable: bool = False


def ef_dir(applications: Sequence[tuple[bytes, str]], ddo_aid: bytes, size: int) -> bytes:
    """One record per application, no path (objects inherit the AID), zero-padded to ``size``.

    Reconstructed [R] from what ``iasecc-tool --list-applications`` printed for a real card
    (labels, AIDs, a ``73 {4F <AID>}`` DDO naming the contact application in both records) and
    the real FCP's size, 101 bytes: the records take 89, the rest is padding, which OpenSC skips.
    """
    records = b"".join(
        tlv(0x61, tlv(0x4F, aid), tlv(0x50, label.encode()), tlv(0x73, tlv(0x4F, ddo_aid)))
        for aid, label in applications
    )
    if len(records) > size:
        raise ValueError(f"EF.DIR records take {len(records)} bytes, more than its {size}")
    return records + bytes(size - len(records))


def odf(aodf: int, prkdf: int, cdf: int, dodf: int) -> bytes:
    return b"".join(
        tlv(tag, seq(octets(fid.to_bytes(2, "big"))))
        for tag, fid in ((0xA8, aodf), (0xA0, prkdf), (0xA4, cdf), (0xA7, dodf))
    )


def _algorithm(ref: int, mechanism: int, operations: bytes, algorithm_oid: str, alg_ref: int) -> bytes:
    return seq(der_int(ref), der_int(mechanism), tlv(0x05, b""), operations, oid(algorithm_oid), der_int(alg_ref))


SUPPORTED_ALGORITHMS = (
    _algorithm(1, CKM_SHA_1, bits(1, 0x02), "1.3.14.3.2.26", ALG_SHA1),
    _algorithm(2, CKM_SHA256, bits(1, 0x02), "2.16.840.1.101.3.4.2.1", ALG_SHA256),
    _algorithm(3, CKM_SHA1_RSA_PKCS, bits(6, 0x40), "1.2.840.113549.1.1.5", ALG_SHA1_RSA),
    _algorithm(4, CKM_SHA256_RSA_PKCS, bits(6, 0x40), "1.2.840.113549.1.1.11", ALG_SHA256_RSA),
    _algorithm(5, CKM_RSA_PKCS, bits(6, 0x40), "1.2.840.113549.1.1.1", ALG_RSA_PKCS_SIGN),
    _algorithm(6, CKM_RSA_PKCS, bits(2, 0x04), "1.2.840.113549.1.1.1", ALG_RSA_PKCS_DECIPHER),
)


def token_info(serial: bytes, label: str, last_update: str) -> bytes:
    """Version 0, serial, manufacturer, label, flags readonly+loginRequired, algorithms, lastUpdate
    (``[5]`` around a GeneralizedTime ``YYYYMMDDhhmmssZ``: a real CPS3 says when it was personalised)."""
    return seq(
        der_int(0),
        octets(serial),
        utf8(MANUFACTURER),
        tlv(0x80, label.encode()),
        bits(6, 0xC0),
        tlv(0xA2, *SUPPORTED_ALGORITHMS),
        tlv(0xA5, tlv(0x18, last_update.encode())),  # lastUpdate [5] CHOICE { generalizedTime }
    )


def aodf(pins: Sequence[PinInfo]) -> bytes:
    entries = []
    for pin in pins:
        common = [utf8(pin.label), pin.common_flags]
        if pin.protected_by is not None:
            common.append(octets(bytes([pin.protected_by])))
        attributes = [
            bit_field(*pin.flags),
            tlv(0x0A, b"\x01"),  # ascii-numeric
            der_int(pin.min_length),
            der_int(pin.stored_length),
            der_int(pin.max_length),
            tlv(0x80, bytes([pin.reference])),
        ]
        if pin.pad_char is not None:
            attributes.append(octets(bytes([pin.pad_char])))
        entries.append(
            seq(
                seq(*common, access_rules(pin.rules)),
                seq(octets(bytes([pin.auth_id]))),
                tlv(0xA1, seq(*attributes)),
            )
        )
    return b"".join(entries)


def prkdf(keys: Sequence[KeyInfo]) -> bytes:
    """Private keys in the order given (a real CPS3: the signature key first)."""
    entries = []
    for key in keys:
        # KeyUsageFlags: decrypt(1)+sign(2) for authentication; nonRepudiation(9) for signature.
        usage = bits(6, 0x00, 0x40) if key.non_repudiation else bits(5, 0x60)
        common = seq(utf8(key.label), PRIVATE_FLAG, octets(bytes([key.auth_id])), access_rules(key.rules))
        klass = seq(
            octets(key.key_id),
            usage,
            tlv(0x01, b"\xff"),  # native
            bits(4, 0xB0),  # accessFlags: sensitive, alwaysSensitive, neverExtractable
            der_int(key.reference),
        )
        entries.append(seq(common, klass, tlv(0xA1, seq(path(None), der_int(key.modulus_bits)))))
    return b"".join(entries)


def cdf(certificates: Sequence[CertInfo]) -> bytes:
    return b"".join(
        seq(
            seq(utf8(c.label), NO_FLAGS_CDF, access_rules(c.rules)),
            seq(octets(c.key_id)),
            tlv(0xA1, seq(path(c.fid))),
        )
        for c in certificates
    )


def dodf(objects: Sequence[DataInfo]) -> bytes:
    entries = []
    for obj in objects:
        common = [utf8(obj.label)]
        if obj.auth_id is not None or obj.modifiable:
            # CommonObjectFlags: private(0), modifiable(1)
            common.append(bits(6, (0x80 if obj.auth_id is not None else 0) | (0x40 if obj.modifiable else 0)))
        if obj.auth_id is not None:
            common.append(octets(bytes([obj.auth_id])))
        entries.append(seq(seq(*common), seq(utf8(obj.application)), tlv(0xA1, path(obj.fid))))
    return b"".join(entries)
