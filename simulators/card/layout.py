"""What a CPS3 holds and where: builds a ``CpxCard`` from a ``CardSpec`` (holder, codes, keys).

File layout follows the real card where it is known (ANS test sources, OpenSC issue traces):
MF with EF.DIR 2F00, EF.ATR 2F01, EF.SN D003; the IAS-ECC application DF 0001 with ODF 5031,
TokenInfo 5032, xDFs 700x, certificates A00x, business data objects 710x and activities
D12x. The byte format of the business objects is not public: here each is a DER SEQUENCE of
UTF8Strings in a documented order (``DATA_OBJECT_FIELDS``), enough for a client to read the
holder's identity as real tools do from the real objects.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from simulators.card import pkcs15
from simulators.card.cpx import CpxCard
from simulators.card.faults import Faults
from simulators.card.fs import ALWAYS, DF, EF, NEVER, SM_ISSUER, Access, user_auth
from simulators.card.security import Chv, KeyUse, RsaKey, Security, SecurityEnvironment
from simulators.card.tlv import tlv

EF_ATR = bytes.fromhex(
    "80 43 01 B8 46 04 04 B0 EC C1 47 03 94 01 80 4F 08 80 25 00 00 01 FF 01 00 E0 10 02 02 01 04"
    " 02 02 01 04 02 02 01 00 02 02 01 00 78 08 06 06 2B 81 22 F8 78 02 82 02 90 00"
)
"""EF.ATR of a real CPS3 (OpenSC issue 2223): root AID, buffer sizes 255/256, IAS-ECC OID."""
ISSUER_PREFIX = bytes.fromhex("8025000001")

PIN_REF, PUK_REF = 0x01, 0x02
PIN_AUTH_ID, PUK_AUTH_ID = 0x01, 0x04
PIN_PROTECTED_BY = 0x02
"""What a real CPS3's AODF gives as the PIN's CommonObjectAttributes.authId: no object has it."""
AUTH_KEY_REF, SIGN_KEY_REF = 0x82, 0x81
SE_PIN, SE_PUK, SE_ISSUER = 1, 3, 5
PIN_PROTECTED = user_auth(SE_PIN)

APP_FID = 0x0001
AODF_FID, PRKDF_FID, DODF_FID, CDF_FID = 0x7001, 0x7002, 0x7004, 0x7005
"""AODF 7001 and CDF 7005 as on a real card (issue 2224); the PrKDF's and DODF's ids are not public."""
AUTH_CERT_FID, SIGN_CERT_FID = 0xA001, 0xA002
ID_CARD_FID, NAME_FID, LANG_FID, INFO_FID, DATA_FID = 0x7102, 0x7103, 0x7104, 0x7105, 0x7106
ACTIVITY_FIRST_FID = 0xD120
MAX_ACTIVITIES = 16
CPS_DATA_SIZE = 512

AUTH_KEY_LABEL, SIGN_KEY_LABEL = "CPS_PRIV_AUT", "CPS_PRIV_SIG"
AUTH_CERT_LABEL = "Certificat d'Authentification CPS"
SIGN_CERT_LABEL = "Certificat de Signature CPS"
PIN_LABEL, PUK_LABEL = "Code porteur de la carte CPS", "Code de déblocage de la carte CPS"
APPLICATION_NAME = "CPS"
"""The application named in the DODF's objects."""
APPLICATIONS = ((pkcs15.APP_AID, "CPX IAS"),)
"""EF.DIR's records. A real CPS3 also lists "CPX IAS CL" (``CL_APP_AID``, the contactless
application, whose content is not public) after this one. OpenSC 0.23 would then bind to the CL
application first: ``sc_enum_apps`` (dir.c) moves known PKCS#15 applications to the head of the
list, but advances its index only when it swaps, so with both CPx AIDs known the second one is
swapped to the front. Left out here, so that OpenSC binds to the contact application."""
EF_DIR_SIZE = 0x65
PIN_LENGTHS = (4, 8, 4)
"""minLength, storedLength, maxLength in a real CPS3's AODF: 4 digits, padded with FF to 8."""
PUK_LENGTHS = (8, 8, 8)
PUK_MAX_TRIES, PUK_USAGES = 10, 100
"""A real CPS3's PUK: 10 tries, 100 uses (iasecc-tool: tries maximum 0A, usage remaining 00:64)."""

DATA_OBJECT_FIELDS: dict[str, tuple[str, ...]] = {
    "CPS_ID_CARD": ("card_type", "serial_number", "expiry_date"),
    "CPS_NAME_PS": ("national_id_type", "national_id", "civility", "last_name", "first_name"),
    "CPS_LANG_PS": ("languages",),
    "CPS_INFO_PS": ("profession_code", "profession", "category", "specialty"),
    "CPS_ACTIVITY_nn_PS": ("mode", "sector", "structure_id", "structure_name", "postcode", "city"),
}
"""Field order of each business object: a DER SEQUENCE of UTF8Strings (harness-defined layout)."""


@dataclass(frozen=True)
class Holder:
    national_id: str
    """``8`` + RPPS, or ``0`` + ADELI."""
    civility: str
    last_name: str
    first_name: str
    profession_code: str
    profession: str
    category: str = "C"
    specialty: str = ""


@dataclass(frozen=True)
class Activity:
    mode: str
    """``L`` libéral, ``S`` salarié."""
    sector: str
    structure_id: str
    structure_name: str
    postcode: str = ""
    city: str = ""


@dataclass(frozen=True)
class Code:
    value: str
    tries_left: int = 3
    max_tries: int = 3
    usages_left: int | None = None


@dataclass(frozen=True)
class KeyPair:
    key: rsa.RSAPrivateKey
    certificate_der: bytes


@dataclass
class CardSpec:
    holder: Holder
    authentication: KeyPair
    signature: KeyPair
    activities: list[Activity] = field(default_factory=list)
    pin: Code = field(default_factory=lambda: Code("1234"))
    puk: Code = field(default_factory=lambda: Code("12345678", PUK_MAX_TRIES, PUK_MAX_TRIES, PUK_USAGES))
    serial: bytes = bytes.fromhex("0000000001")
    """The 5 bytes that follow the issuer prefix in EF.SN."""
    label: str = "CPS3v3-TEST"
    last_update: str = "20100316110000Z"
    """TokenInfo's lastUpdate (a real CPS3's personalisation time, issue 2267)."""
    card_type: str = "CPS"
    expiry: dt.date = dt.date(2029, 12, 31)
    t0_get_response: bool = True
    faults: Faults = field(default_factory=Faults)


def _fields(*values: str) -> bytes:
    return pkcs15.seq(*(pkcs15.utf8(v) for v in values))


ISSUER_UPDATES = {"update": SM_ISSUER, "delete": SM_ISSUER}
"""EF.DIR and EF.ATR: updated or deleted only by the issuer, under secure messaging (SCB 45)."""


def _ef(
    fid: int,
    content: bytes,
    *,
    read: int = ALWAYS,
    update: int = NEVER,
    delete: int = NEVER,
    sfi: int | None = None,
    size: int | None = None,
) -> EF:
    return EF(fid, bytearray(content), sfi=sfi, access=Access(read=read, update=update, delete=delete), size=size)


def build_card(spec: CardSpec) -> CpxCard:
    if len(spec.activities) > MAX_ACTIVITIES:
        raise ValueError(f"a CPS holds at most {MAX_ACTIVITIES} activities")
    if len(spec.serial) != 5:
        raise ValueError("serial: 5 bytes after the issuer prefix")
    holder = spec.holder
    mf = DF(0x3F00, name=pkcs15.ROOT_AID)
    mf.add(_ef(0x2F00, pkcs15.ef_dir(APPLICATIONS, pkcs15.APP_AID, EF_DIR_SIZE), sfi=0x1E, **ISSUER_UPDATES))
    mf.add(_ef(0x2F01, EF_ATR, sfi=0x1D, **ISSUER_UPDATES))
    mf.add(_ef(0xD003, tlv(0x5A, ISSUER_PREFIX + spec.serial), sfi=0x1C))

    app = DF(APP_FID, name=pkcs15.APP_AID)
    mf.add(app)
    serial8 = (ISSUER_PREFIX + spec.serial)[-8:]
    key_size = spec.authentication.key.key_size
    data_objects: list[tuple[int, str, bytes, int | None]] = [
        (
            ID_CARD_FID,
            "CPS_ID_CARD",
            _fields(spec.card_type, serial8.hex().upper(), spec.expiry.strftime("%Y%m%d")),
            None,
        ),
        (
            NAME_FID,
            "CPS_NAME_PS",
            _fields(holder.national_id[0], holder.national_id, holder.civility, holder.last_name, holder.first_name),
            None,
        ),
        (LANG_FID, "CPS_LANG_PS", _fields("fr"), None),
        (
            INFO_FID,
            "CPS_INFO_PS",
            _fields(holder.profession_code, holder.profession, holder.category, holder.specialty),
            None,
        ),
    ]
    for index, activity in enumerate(spec.activities):
        data_objects.append(
            (
                ACTIVITY_FIRST_FID + index,
                f"CPS_ACTIVITY_{index + 1:02d}_PS",
                _fields(
                    activity.mode,
                    activity.sector,
                    activity.structure_id,
                    activity.structure_name,
                    activity.postcode,
                    activity.city,
                ),
                PIN_AUTH_ID,
            )
        )
    for fid, _label, content, auth_id in data_objects:
        app.add(_ef(fid, content, read=PIN_PROTECTED if auth_id else ALWAYS))
    app.add(_ef(DATA_FID, b"", update=ALWAYS, size=CPS_DATA_SIZE))

    auth_id_bytes = pkcs15.APP_AID + bytes([AUTH_KEY_REF & 0x7F])
    sign_id_bytes = pkcs15.APP_AID + bytes([SIGN_KEY_REF & 0x7F])
    free = (pkcs15.AccessRule((pkcs15.MODE_EXECUTE,)), pkcs15.AccessRule((pkcs15.MODE_UPDATE,)))
    pins = [
        pkcs15.PinInfo(
            PIN_LABEL,
            PIN_AUTH_ID,
            PIN_REF,
            *PIN_LENGTHS,
            flags=(pkcs15.PIN_INITIALIZED, pkcs15.PIN_NEEDS_PADDING, pkcs15.PIN_EXCHANGE_REF_DATA),
            pad_char=0xFF,
            protected_by=PIN_PROTECTED_BY,
            rules=(*free, pkcs15.AccessRule((pkcs15.MODE_ATTRIBUTE,), PUK_AUTH_ID)),
        ),
        pkcs15.PinInfo(
            PUK_LABEL,
            PUK_AUTH_ID,
            PUK_REF,
            *PUK_LENGTHS,
            flags=(
                pkcs15.PIN_UNBLOCK_DISABLED,
                pkcs15.PIN_INITIALIZED,
                pkcs15.PIN_NEEDS_PADDING,
                pkcs15.PIN_SO,
                pkcs15.PIN_EXCHANGE_REF_DATA,
            ),
            rules=free,
        ),
    ]
    by_pin = PIN_AUTH_ID
    keys = [
        pkcs15.KeyInfo(
            SIGN_KEY_LABEL,
            sign_id_bytes,
            SIGN_KEY_REF,
            spec.signature.key.key_size,
            True,
            PIN_AUTH_ID,
            rules=(pkcs15.AccessRule((pkcs15.MODE_PSO_CDS,), by_pin),),
        ),
        pkcs15.KeyInfo(
            AUTH_KEY_LABEL,
            auth_id_bytes,
            AUTH_KEY_REF,
            key_size,
            False,
            PIN_AUTH_ID,
            rules=(
                pkcs15.AccessRule((pkcs15.MODE_PSO_DECRYPT,), by_pin),
                pkcs15.AccessRule((pkcs15.MODE_INT_AUTH,), by_pin),
            ),
        ),
    ]
    cert_rules = (pkcs15.AccessRule((pkcs15.MODE_READ,)), pkcs15.AccessRule((pkcs15.MODE_UPDATE,), by_pin))
    certs = [
        pkcs15.CertInfo(SIGN_CERT_LABEL, sign_id_bytes, SIGN_CERT_FID, cert_rules),
        pkcs15.CertInfo(AUTH_CERT_LABEL, auth_id_bytes, AUTH_CERT_FID, cert_rules),
    ]
    data_infos = [pkcs15.DataInfo(label, fid, APPLICATION_NAME, auth_id) for fid, label, _c, auth_id in data_objects]
    data_infos.append(pkcs15.DataInfo("CPS_DATA", DATA_FID, APPLICATION_NAME, modifiable=True))
    app.add(_ef(0x5031, pkcs15.odf(AODF_FID, PRKDF_FID, CDF_FID, DODF_FID)))
    app.add(_ef(0x5032, pkcs15.token_info(serial8, spec.label, spec.last_update)))
    app.add(_ef(AODF_FID, pkcs15.aodf(pins)))
    app.add(_ef(PRKDF_FID, pkcs15.prkdf(keys)))
    app.add(_ef(CDF_FID, pkcs15.cdf(certs)))
    app.add(_ef(DODF_FID, pkcs15.dodf(data_infos)))
    app.add(_ef(AUTH_CERT_FID, spec.authentication.certificate_der))
    app.add(_ef(SIGN_CERT_FID, spec.signature.certificate_der))

    security = Security(
        chvs={
            PIN_REF: Chv(
                PIN_REF,
                spec.pin.value.encode(),
                spec.pin.max_tries,
                spec.pin.tries_left,
                PIN_LENGTHS[0],
                PIN_LENGTHS[1],
                reset_scb=user_auth(SE_PUK),
                padded_length=PIN_LENGTHS[1],
            ),
            PUK_REF: Chv(
                PUK_REF,
                spec.puk.value.encode(),
                spec.puk.max_tries,
                spec.puk.tries_left,
                PUK_LENGTHS[0],
                PUK_LENGTHS[1],
                reset_scb=NEVER,
                change_scb=NEVER,
                usages_left=spec.puk.usages_left,
            ),
        },
        keys={
            AUTH_KEY_REF: RsaKey(
                AUTH_KEY_REF,
                spec.authentication.key,
                KeyUse.AUTHENTICATION,
                scb_int_auth=PIN_PROTECTED,
                scb_decipher=PIN_PROTECTED,
                scb_pso_sign=NEVER,
            ),
            SIGN_KEY_REF: RsaKey(
                SIGN_KEY_REF,
                spec.signature.key,
                KeyUse.NON_REPUDIATION,
                scb_int_auth=NEVER,
                scb_decipher=NEVER,
                scb_pso_sign=PIN_PROTECTED,
            ),
        },
        environments={
            SE_PIN: SecurityEnvironment(SE_PIN, PIN_REF),
            SE_PUK: SecurityEnvironment(SE_PUK, PUK_REF),
            SE_ISSUER: SecurityEnvironment(SE_ISSUER, None),
        },
    )
    return CpxCard(mf, security, t0_get_response=spec.t0_get_response, faults=spec.faults)
