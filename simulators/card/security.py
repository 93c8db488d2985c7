"""Security objects of the card: CHVs (PIN, PUK), RSA keys, security environments.

Counters persist like EEPROM (they only move on wrong or right codes and on unblocking);
``verified`` is volatile and cleared by a power cycle or reset, nothing else.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from simulators.card.apdu import SW, CardError

DIGEST_INFOS: tuple[tuple[bytes, hashes.HashAlgorithm], ...] = (
    (bytes.fromhex("3021300906052b0e03021a05000414"), hashes.SHA1()),
    (bytes.fromhex("302d300d06096086480165030402040500041c"), hashes.SHA224()),
    (bytes.fromhex("3031300d060960864801650304020105000420"), hashes.SHA256()),
    (bytes.fromhex("3041300d060960864801650304020205000430"), hashes.SHA384()),
    (bytes.fromhex("3051300d060960864801650304020305000440"), hashes.SHA512()),
)
"""RFC 8017 §9.2 DigestInfo prefixes: an input that is exactly one of these is signed by OpenSSL."""


@dataclass
class Chv:
    """A card holder verification object: the PIN ("code porteur") or the PUK ("code de déblocage")."""

    reference: int
    value: bytes
    max_tries: int
    tries_left: int
    min_length: int
    max_length: int
    reset_scb: int
    """Who may unblock it: ``13`` for the PIN (the PUK, through SE #3), ``FF`` for the PUK."""
    change_scb: int = 0x00
    """Who may change it: ``00`` for the PIN (after VERIFY or with the old code), ``FF`` for the PUK."""
    usages_left: int | None = None
    """A usage counter (a real CPS3's PUK: 100): each successful use spends one; at 0 it is blocked."""
    padded_length: int | None = None
    """Codes arrive padded with ``FF`` to this length (the AODF's needs-padding flag), or bare."""
    verified: bool = False

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0 or self.usages_left == 0

    def unpad(self, candidate: bytes) -> bytes:
        """The code without its ``FF`` padding (OpenSC pads the PIN to 8 bytes, as the AODF asks)."""
        if self.padded_length is not None and len(candidate) == self.padded_length:
            return candidate.rstrip(b"\xff")
        return candidate

    def status_sw(self) -> int:
        """VERIFY without data: 9000 verified, 63Cx tries left, 6983 blocked. Spends nothing."""
        if self.blocked:
            return SW.AUTH_METHOD_BLOCKED
        if self.verified:
            return SW.OK
        return 0x63C0 | self.tries_left

    def check_format(self, candidate: bytes) -> None:
        if not self.min_length <= len(candidate) <= self.max_length:
            raise CardError(SW.WRONG_DATA, f"CHV {self.reference:02X}: length {len(candidate)}")

    def verify(self, candidate: bytes) -> None:
        """Compare, count, and raise CardError(63Cx / 6983) on failure."""
        if self.blocked:
            raise CardError(SW.AUTH_METHOD_BLOCKED, f"CHV {self.reference:02X} blocked")
        candidate = self.unpad(candidate)
        self.check_format(candidate)
        if candidate != self.value:
            self.verified = False
            self.tries_left -= 1
            if self.blocked:
                raise CardError(SW.AUTH_METHOD_BLOCKED, f"CHV {self.reference:02X} now blocked")
            raise CardError(0x63C0 | self.tries_left, "wrong code")
        self.tries_left = self.max_tries
        if self.usages_left is not None:
            self.usages_left -= 1
        self.verified = True

    def unblock(self, new_value: bytes | None) -> None:
        if new_value is not None:
            new_value = self.unpad(new_value)
            self.check_format(new_value)
            self.value = new_value
        self.tries_left = self.max_tries
        self.verified = False


MAX_SIGN_INPUT_PERCENT = 40
"""Real CPS cards refuse INTERNAL AUTHENTICATE input over 40 % of the key length (ANS spec)."""


class KeyUse(enum.StrEnum):
    AUTHENTICATION = "authentication"
    """``CPS_PRIV_AUT``: INTERNAL AUTHENTICATE and PSO DECIPHER (TLS client auth, PSC)."""
    NON_REPUDIATION = "non-repudiation"
    """``CPS_PRIV_SIG``: PSO COMPUTE DIGITAL SIGNATURE only."""


@dataclass
class RsaKey:
    reference: int
    key: rsa.RSAPrivateKey
    use: KeyUse
    scb_int_auth: int
    scb_decipher: int
    scb_pso_sign: int

    @property
    def size_bytes(self) -> int:
        return self.key.key_size // 8

    def sign_pkcs1(self, data: bytes, key: rsa.RSAPrivateKey | None = None) -> bytes:
        """PKCS#1 v1.5 type-1 padding of ``data`` (a DigestInfo), then the RSA private operation.

        The card, not the caller, pads: OpenSC sends the bare DigestInfo. ``key`` lets a fault
        sign with another key, as a card whose key was swapped would.
        """
        k = self.size_bytes
        if len(data) > k * MAX_SIGN_INPUT_PERCENT // 100:
            raise CardError(SW.WRONG_LENGTH, f"input over {MAX_SIGN_INPUT_PERCENT} % of the modulus")
        signer = key or self.key
        for prefix, algorithm in DIGEST_INFOS:
            if data.startswith(prefix) and len(data) == len(prefix) + algorithm.digest_size:
                # the same bytes as below (PKCS#1 v1.5 is deterministic), by OpenSSL: ten times faster
                return signer.sign(data[len(prefix) :], padding.PKCS1v15(), Prehashed(algorithm))
        block = b"\x00\x01" + b"\xff" * (k - 3 - len(data)) + b"\x00" + data
        numbers = signer.private_numbers()
        m = int.from_bytes(block, "big")
        # CRT: two half-size exponentiations, as a card's coprocessor does.
        s1 = pow(m, numbers.dmp1, numbers.p)
        s2 = pow(m, numbers.dmq1, numbers.q)
        h = (numbers.iqmp * (s1 - s2)) % numbers.p
        return (s2 + h * numbers.q).to_bytes(k, "big")

    def decipher_pkcs1(self, ciphertext: bytes) -> bytes:
        if len(ciphertext) != self.size_bytes:
            raise CardError(SW.WRONG_LENGTH, "cryptogram is not one modulus long")
        try:
            return self.key.decrypt(ciphertext, padding.PKCS1v15())
        except ValueError as exc:
            raise CardError(SW.WRONG_DATA, "bad padding") from exc


@dataclass(frozen=True)
class SecurityEnvironment:
    """An SE as the card publishes it (GET DATA ``BF FB <se>``): which CHV authenticates the user."""

    number: int
    chv_reference: int | None
    """None: an SE that authenticates no user (SE #5, the issuer's secure messaging)."""


@dataclass
class CurrentSe:
    """What MSE SET selected: the key and algorithm for the next signature or decipherment."""

    auth_key: int | None = None
    auth_alg: int | None = None
    decipher_key: int | None = None
    decipher_alg: int | None = None
    sign_key: int | None = None
    sign_alg: int | None = None
    hash_alg: int | None = None
    hash_value: bytes | None = None

    def clear(self) -> None:
        self.auth_key = self.auth_alg = self.decipher_key = self.decipher_alg = None
        self.sign_key = self.sign_alg = self.hash_alg = None
        self.hash_value = None


@dataclass
class Security:
    chvs: dict[int, Chv]
    keys: dict[int, RsaKey]
    environments: dict[int, SecurityEnvironment] = field(default_factory=dict)
    current: CurrentSe = field(default_factory=CurrentSe)

    def reset(self) -> None:
        for chv in self.chvs.values():
            chv.verified = False
        self.current.clear()

    def satisfied(self, scb: int) -> bool:
        """Whether the condition ``scb`` holds now (``00``, or ``1x`` with SE x's CHV verified)."""
        if scb == 0x00:
            return True
        if scb & 0xF0 == 0x10:
            se = self.environments.get(scb & 0x0F)
            chv = self.chvs.get(se.chv_reference) if se and se.chv_reference is not None else None
            return bool(chv and chv.verified)
        return False

    def require(self, scb: int) -> None:
        if scb == 0xFF:
            raise CardError(SW.COMMAND_NOT_ALLOWED, "operation never allowed")
        if not self.satisfied(scb):
            raise CardError(SW.SECURITY_STATUS_NOT_SATISFIED, f"condition {scb:02X} not met")
