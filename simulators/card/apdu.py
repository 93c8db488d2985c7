"""Command APDUs as a T=0 card receives them, and the status words it answers.

On T=0 (the CPS card's only protocol) OpenSC sends a case-4 command without Le and a case-1
command as ``CLA INS P1 P2 00``; a 5-byte command is therefore ambiguous, and only the
instruction tells whether P3 is an Le (READ BINARY, GET RESPONSE, GET CHALLENGE) or an empty
Lc. The parser keeps P3 and lets the handler decide.
"""

from __future__ import annotations

import enum
from typing import NamedTuple


class SW(enum.IntEnum):
    """ISO 7816-4 status words the card uses."""

    OK = 0x9000
    END_OF_FILE = 0x6282
    WRONG_LENGTH = 0x6700
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881
    SECURE_MESSAGING_NOT_SUPPORTED = 0x6882
    LAST_COMMAND_EXPECTED = 0x6883
    COMMAND_INCOMPATIBLE = 0x6981
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983
    CONDITIONS_NOT_SATISFIED = 0x6985
    COMMAND_NOT_ALLOWED = 0x6986
    WRONG_DATA = 0x6A80
    FUNCTION_NOT_SUPPORTED = 0x6A81
    FILE_NOT_FOUND = 0x6A82
    INCORRECT_P1P2 = 0x6A86
    REFERENCED_DATA_NOT_FOUND = 0x6A88
    WRONG_P1P2 = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00
    UNKNOWN = 0x6F00


def remaining_sw(count: int) -> int:
    """``61xx``: ``count`` bytes wait for GET RESPONSE (00 means 256 or more)."""
    return 0x6100 | (count & 0xFF if count < 256 else 0)


def wrong_le_sw(available: int) -> int:
    """``6Cxx``: resend with Le = ``available``."""
    return 0x6C00 | (available & 0xFF)


def tries_left_sw(tries: int) -> int:
    return 0x63C0 | (tries & 0x0F)


class CardError(Exception):
    """A handler's way to answer a status word other than 9000 (with data for 6282 or 61xx)."""

    def __init__(self, sw: int, why: str = "", data: bytes = b"") -> None:
        super().__init__(sw, why)  # formatted only if shown: this is raised on hot paths
        self.sw = sw
        self.why = why
        self.data = data

    def __str__(self) -> str:
        return f"{self.sw:04X} {self.why}".strip()


class Command(NamedTuple):
    """A parsed command (a NamedTuple: built for every APDU, so cheap to make)."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    """Expected length, 1–256 (P3 = 00 means 256); None when the command carries no Le."""
    p3: int | None = None
    """For a 5-byte command, the raw P3 (Le or an empty Lc: the instruction decides)."""

    @property
    def chained(self) -> bool:
        return bool(self.cla & 0x10)

    @property
    def p1p2(self) -> int:
        return (self.p1 << 8) | self.p2

    @property
    def expected(self) -> int | None:
        """Le as the card must honour it: an explicit Le, or P3 of a 5-byte command."""
        if self.le is not None:
            return self.le
        if self.p3 is not None:
            return self.p3 or 256
        return None


def parse(apdu: bytes) -> Command:
    """A short APDU in any ISO case; raises CardError(6700) on inconsistent lengths.

    Extended APDUs never reach a T=0 card (OpenSC cannot send them there), so a 0x00 P3 with a
    longer body is a wrong length, as a real card would see it.
    """
    if len(apdu) < 4:
        raise CardError(SW.WRONG_LENGTH, "shorter than a header")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return Command(cla, ins, p1, p2)
    p3 = body[0]
    if len(body) == 1:
        return Command(cla, ins, p1, p2, p3=p3)
    lc = p3
    if lc == 0 or len(body) not in (1 + lc, 2 + lc):
        raise CardError(SW.WRONG_LENGTH, f"Lc {lc} does not match {len(body) - 1} bytes of body")
    data = bytes(body[1 : 1 + lc])
    le = None
    if len(body) == 2 + lc:
        le = body[-1] or 256
    return Command(cla, ins, p1, p2, data, le)


def response(data: bytes = b"", sw: int = SW.OK) -> bytes:
    return bytes(data) + sw.to_bytes(2, "big")
