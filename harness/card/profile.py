"""Card profiles: the YAML a trainer edits to describe a CPS card, and how it becomes a card.

A profile names the holder, the activities, the codes and their counters, the certificate
variants (from the test PKI: one for both certificates, or one each) and the faults.
``build_card`` issues the certificates and hands the sans-IO card everything as plain objects.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from harness.pki import CardCredentials, CertVariant, CertVariants, Pki, Professional
from harness.yamlfile import DataFileError, load_model
from simulators import identifiers
from simulators.card.cpx import CpxCard
from simulators.card.faults import Faults
from simulators.card.layout import (
    PIN_LENGTHS,
    PUK_MAX_TRIES,
    PUK_USAGES,
    Activity,
    CardSpec,
    Code,
    Holder,
    KeyPair,
    build_card,
)
from simulators.card.log import NAMES

BUILTIN_DIR = Path(__file__).parent / "profiles"
INS_BY_NAME = {name: ins for ins, name in NAMES.items()}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HolderModel(Strict):
    """The card holder, as the card's data objects and certificates name them."""

    civility: Literal["M", "MME"] = Field(description="M or MME")
    first_name: str = Field(min_length=1, description="in capitals, as on the card")
    last_name: str = Field(min_length=1, description="in capitals, as on the card")
    profession: str = Field(description="TRE_G15 code: 10 médecin, 21 pharmacien, 60 infirmier…")
    rpps: str | None = Field(default=None, description="11 digits; national id 8 + RPPS (give rpps or adeli)")
    adeli: str | None = Field(
        default=None,
        description="9 characters: digits, or 2A/2B then 7 digits (Corsica); national id 0 + ADELI "
        "(give rpps or adeli)",
    )
    specialty: str = Field(default="", description="specialty code (e.g. SM26), empty if none")

    @field_validator("profession")
    @classmethod
    def known_profession(cls, code: str) -> str:
        if code not in identifiers.PROFESSIONS:
            raise ValueError(f"unknown TRE_G15 code {code!r}; known: {', '.join(identifiers.PROFESSIONS)}")
        return code

    @model_validator(mode="after")
    def one_identifier(self) -> HolderModel:
        identifiers.national_id(rpps=self.rpps, adeli=self.adeli)  # raises ValueError with the reason
        return self

    @property
    def national_id(self) -> str:
        return identifiers.national_id(rpps=self.rpps, adeli=self.adeli)

    @property
    def profession_label(self) -> str:
        return identifiers.PROFESSIONS[self.profession]


class ActivityModel(Strict):
    """One activity (situation d'exercice) of the holder, in a ``CPS_ACTIVITY_nn_PS`` data object."""

    mode: Literal["L", "S"] = Field(description="L libéral, S salarié")
    sector: str = Field(description="sector of activity code (e.g. SA07, SA33)")
    structure_id: str = Field(description="the structure's identifier")
    structure_name: str = Field(description="the structure's name")
    postcode: str = Field(default="", description="the structure's postcode")
    city: str = Field(default="", description="the structure's city")


class CodeModel(Strict):
    """The PIN (code porteur) and its try counter."""

    value: str = Field(description="digits")
    tries_left: int | None = Field(default=None, ge=0, description="None: max_tries; 0: blocked")
    max_tries: int = Field(default=3, ge=1, le=15, description="tries before the code blocks")

    @model_validator(mode="after")
    def counters(self) -> Self:
        if self.tries_left is not None and self.tries_left > self.max_tries:
            raise ValueError("tries_left cannot exceed max_tries")
        if not self.value.isdigit():
            raise ValueError("codes are digits")
        return self

    def code(self) -> Code:
        left = self.max_tries if self.tries_left is None else self.tries_left
        return Code(self.value, left, self.max_tries)


class PukModel(CodeModel):
    """The PUK (code de déblocage): a real CPS3's has 10 tries and a usage counter of 100
    (``iasecc-tool --list-sdos``: tries maximum 0A, usage remaining 00:64)."""

    max_tries: int = Field(default=PUK_MAX_TRIES, ge=1, le=15, description="tries before the code blocks")
    usages_left: int = Field(
        default=PUK_USAGES, ge=0, le=0xFFFF, description="successful uses left (each unblocking spends one; 0: blocked)"
    )

    def code(self) -> Code:
        left = self.max_tries if self.tries_left is None else self.tries_left
        return Code(self.value, left, self.max_tries, self.usages_left)


def _parse_sw(text: str) -> int:
    if not re.fullmatch(r"[0-9A-Fa-f]{4}", text):
        raise ValueError(f"status word {text!r}: four hex digits, e.g. 6F00")
    return int(text, 16)


def _parse_ins(text: str) -> int:
    if text.upper() in INS_BY_NAME:
        return INS_BY_NAME[text.upper()]
    if re.fullmatch(r"[0-9A-Fa-f]{2}", text):
        return int(text, 16)
    raise ValueError(f"instruction {text!r}: a name ({', '.join(INS_BY_NAME)}) or two hex digits")


class FaultsModel(Strict):
    """What goes wrong with the card (a world or ``card fault`` can also switch these at run time)."""

    status_words: dict[str, str] = Field(
        default_factory=dict, description="instruction (name or 2 hex digits) -> forced status word (4 hex digits)"
    )
    wrong_key_signature: bool = Field(default=False, description="sign with a key that does not match the certificate")
    mute: bool = Field(default=False, description="the card stops answering")
    timing: Literal["instant", "real-card"] = Field(
        default="instant", description="real-card: answer with a real CPS3's delays"
    )
    apdu_delay_ms: Annotated[int, Field(ge=0, le=60_000)] = Field(default=0, description="extra delay per APDU")
    remove_on: str | None = Field(default=None, description="the card is pulled out when this instruction arrives")
    remove_after_apdus: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="the card is pulled out after this many APDUs"
    )

    @field_validator("status_words")
    @classmethod
    def valid_pairs(cls, pairs: dict[str, str]) -> dict[str, str]:
        for ins, sw in pairs.items():
            _parse_ins(ins)
            _parse_sw(sw)
        return pairs

    @field_validator("remove_on")
    @classmethod
    def valid_ins(cls, ins: str | None) -> str | None:
        if ins is not None:
            _parse_ins(ins)
        return ins

    def faults(self) -> Faults:
        faults = Faults(
            forced_sw={_parse_ins(i): _parse_sw(s) for i, s in self.status_words.items()},
            wrong_key_signature=self.wrong_key_signature,
            mute=self.mute,
            remove_on_ins=_parse_ins(self.remove_on) if self.remove_on else None,
            remove_after_apdus=self.remove_after_apdus,
        )
        if self.timing == "real-card":
            faults.real_card_timing()
        faults.apdu_delay += self.apdu_delay_ms / 1000
        return faults


class CertificatesModel(Strict):
    """Each certificate of the card on its own, ``{authentication: expired, signature: valid}``; one
    variant (``expired``) stands for both. An omitted key is ``valid`` in a card profile, and keeps
    the profile's variant in a persona's ``card_certificates`` (an override).

    Logins use the authentication certificate only: the signature one is what a card signs
    documents with, so a scenario can show a card that cannot log in but can still sign.
    """

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})  # as ``_one_for_both`` refuses ``{}``

    authentication: CertVariant | None = Field(
        default=None,
        description="the authentication certificate: TLS client authentication (Test SSL, the wallet's card path, "
        "PSC's card login)",
    )
    signature: CertVariant | None = Field(
        default=None, description="the signature certificate (non-repudiation): no login uses it"
    )

    def variants(self) -> CertVariants:
        """What the test PKI issues: an omitted certificate is valid."""
        return CertVariants(self.authentication or CertVariant.VALID, self.signature or CertVariant.VALID)

    def overridden_by(self, override: CertificatesModel) -> CertificatesModel:
        """This card's variants with ``override``'s given keys on top (a persona over its profile)."""
        return CertificatesModel(
            authentication=self.authentication if override.authentication is None else override.authentication,
            signature=self.signature if override.signature is None else override.signature,
        )

    def __str__(self) -> str:
        return str(self.variants())


def _one_for_both(value: Any) -> Any:
    """``expired`` means both certificates; a mapping names each (at least one of them).

    Checked here rather than by a union of the two forms, so a mistake gets one error that names
    the field, not one per form tried.
    """
    if isinstance(value, str):  # a CertVariant too
        if value not in {v.value for v in CertVariant}:
            raise ValueError(
                f"{value!r} is not a certificate variant: {', '.join(v.value for v in CertVariant)} "
                "(or one per certificate: {authentication: …, signature: …})"
            )
        return {"authentication": value, "signature": value}
    if isinstance(value, dict) and not value:
        raise ValueError("give authentication, signature or both (or one variant for both)")
    if not isinstance(value, dict | CertificatesModel):
        raise ValueError("one variant for both certificates, or {authentication: …, signature: …}")
    return value


Certificates = Annotated[
    CertificatesModel, BeforeValidator(_one_for_both, json_schema_input_type=CertVariant | CertificatesModel)
]
"""A card's certificate variants as files write them: one variant for both, or a mapping per certificate."""
_CERTIFICATES: TypeAdapter[CertificatesModel] = TypeAdapter(Certificates)


def parse_certificates(value: object) -> CertificatesModel:
    """``expired``, ``{"authentication": "expired"}``…, as a profile's ``certificates:`` takes them
    (for options given outside a file); ``pydantic.ValidationError`` says what is wrong."""
    return _CERTIFICATES.validate_python(value)


class CardProfile(Strict):
    """One CPS card, as a trainer describes it."""

    holder: HolderModel = Field(description="who the card belongs to")
    activities: list[ActivityModel] = Field(
        default_factory=list, max_length=16, description="the holder's activities (situations d'exercice)"
    )
    pin: CodeModel = Field(default=CodeModel(value="1234"), description="the code porteur: 4 digits")
    puk: PukModel = Field(default=PukModel(value="12345678"), description="the code de déblocage: 8 digits")
    certificates: Certificates = Field(
        default=CertificatesModel(authentication=CertVariant.VALID, signature=CertVariant.VALID),
        description="the certificates the test PKI issues for this card: one variant for both, or "
        "{authentication: …, signature: …} (an omitted one is valid)",
    )
    serial: str = Field(default="0000000001", pattern=r"^[0-9A-Fa-f]{10}$", description="the card's serial number")
    label: str = Field(default="CPS3v3-TEST", description="the PKCS#15 token label")
    t0_get_response: bool = Field(default=True, description="False: answer data directly (no 61xx)")
    faults: FaultsModel = Field(default=FaultsModel(), description="what goes wrong with the card (none by default)")

    @field_validator("pin")
    @classmethod
    def pin_length(cls, pin: CodeModel) -> CodeModel:
        if not PIN_LENGTHS[0] <= len(pin.value) <= PIN_LENGTHS[2]:
            # A real CPS3's AODF says minLength 4, maxLength 4: OpenSC refuses any other length.
            raise ValueError("the PIN (code porteur) has 4 digits")
        return pin

    @field_validator("puk")
    @classmethod
    def puk_length(cls, puk: PukModel) -> PukModel:
        if len(puk.value) != 8:
            raise ValueError("the PUK (code de déblocage) has 8 digits")
        return puk

    def professional(self) -> Professional:
        h = self.holder
        return Professional(h.national_id, h.last_name, h.first_name, h.profession_label)


def builtin_profiles() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.yaml"))


class ProfileNotFound(DataFileError, FileNotFoundError):
    """No built-in profile and no file of that name; the message lists the built-in ones."""


def load_profile(name_or_path: str | Path) -> CardProfile:
    """A built-in profile by name (``pharmacist``, any case) or a YAML file by path. Every problem,
    from a missing file to a wrong field, is ``DataFileError`` with ``file:line: field: why`` lines
    (``ProfileNotFound`` for a name that is neither), which commands print with exit code 2."""
    path = Path(name_or_path)
    if not path.exists():
        builtin = builtin_profiles()
        name = str(name_or_path)
        if not path.suffix and name.casefold() in builtin:
            path = BUILTIN_DIR / f"{name.casefold()}.yaml"
        else:
            close = difflib.get_close_matches(name.casefold(), builtin, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ProfileNotFound(
                path,
                [f"no card profile {name!r}: {hint}a built-in name ({', '.join(builtin)}) or a YAML file's path"],
            )
    return load_model(path, CardProfile, what="a card profile")


def card_spec(profile: CardProfile, credentials: CardCredentials) -> CardSpec:
    h = profile.holder
    holder = Holder(
        h.national_id, h.civility, h.last_name, h.first_name, h.profession, h.profession_label, specialty=h.specialty
    )
    der = serialization.Encoding.DER
    return CardSpec(
        holder=holder,
        authentication=KeyPair(
            credentials.authentication.key, credentials.authentication.certificate.public_bytes(der)
        ),
        signature=KeyPair(credentials.signature.key, credentials.signature.certificate.public_bytes(der)),
        activities=[Activity(**a.model_dump()) for a in profile.activities],
        pin=profile.pin.code(),
        puk=profile.puk.code(),
        serial=bytes.fromhex(profile.serial),
        label=profile.label,
        # the card's end date (CPS_ID_CARD) follows the authentication certificate, the one logins meet
        expiry=credentials.authentication.certificate.not_valid_after_utc.date(),
        t0_get_response=profile.t0_get_response,
        faults=profile.faults.faults(),
    )


def make_card(profile: CardProfile, pki: Pki, now: dt.datetime | None = None) -> tuple[CpxCard, CardCredentials]:
    """Issue the profile's certificates on ``pki`` (world clock ``now``) and build the card."""
    credentials = pki.cards.issue(
        profile.professional(), now or dt.datetime.now(dt.UTC), profile.certificates.variants()
    )
    return build_card(card_spec(profile, credentials)), credentials
