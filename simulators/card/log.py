"""A decoded, PIN-masked log of what a card was asked and what it answered.

Codes typed by the holder (VERIFY, CHANGE REFERENCE DATA, RESET RETRY COUNTER data) never
reach the log: they are replaced by ``**`` per byte, so a report can be shared.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from simulators.card.apdu import CardError, Command, parse

NAMES = {
    0xA4: "SELECT",
    0xB0: "READ BINARY",
    0xD6: "UPDATE BINARY",
    0xC0: "GET RESPONSE",
    0x84: "GET CHALLENGE",
    0xCB: "GET DATA",
    0x20: "VERIFY",
    0x24: "CHANGE REFERENCE DATA",
    0x2C: "RESET RETRY COUNTER",
    0x22: "MSE",
    0x88: "INTERNAL AUTHENTICATE",
    0x2A: "PSO",
}
SECRET_INS = frozenset({0x20, 0x24, 0x2C})
STATUS = {
    0x9000: "OK",
    0x6282: "end of file",
    0x6700: "wrong length",
    0x6881: "logical channel not supported",
    0x6882: "secure messaging not supported",
    0x6884: "chaining not supported",
    0x6981: "command incompatible",
    0x6982: "security status not satisfied",
    0x6983: "blocked",
    0x6985: "conditions not satisfied",
    0x6986: "command not allowed",
    0x6A80: "wrong data",
    0x6A81: "function not supported",
    0x6A82: "file not found",
    0x6A86: "incorrect P1-P2",
    0x6A88: "referenced data not found",
    0x6B00: "wrong P1-P2",
    0x6D00: "INS not supported",
    0x6E00: "CLA not supported",
    0x6F00: "no precise diagnosis",
}


def describe(command: Command) -> str:
    name = NAMES.get(command.ins, f"INS {command.ins:02X}")
    if command.ins == 0xA4:
        return f"{name} P1={command.p1:02X} {command.data.hex().upper()}"
    if command.ins in (0x20, 0x24, 0x2C):
        return f"{name} ref {command.p2:02X}" + (" (status)" if not command.data else "")
    if command.ins == 0xCB:
        return f"{name} SDO {command.data[5:9].hex().upper()}" if len(command.data) > 8 else name
    if command.ins == 0x2A and command.p1p2 == 0x8086:
        return "PSO DECIPHER" + (" (chained)" if command.chained else "")
    if command.ins == 0xB0:
        return f"{name} P1P2={command.p1p2:04X}"
    return name


def status_text(sw: int) -> str:
    if sw >> 8 == 0x61:
        return f"{sw & 0xFF or 256} bytes waiting"
    if sw >> 8 == 0x6C:
        return f"wrong Le, use {sw & 0xFF}"
    if sw & 0xFFF0 == 0x63C0:
        return f"{sw & 0x0F} tries left"
    return STATUS.get(sw, "")


def mask(apdu: bytes) -> bytes:
    """The command with any secret data bytes replaced by FF (header and Lc kept)."""
    if len(apdu) > 5 and apdu[1] in SECRET_INS:
        return apdu[:5] + b"\xff" * (len(apdu) - 5)
    return apdu


class LogEntry(NamedTuple):
    """One exchange; the command is stored masked, its description is made only when read."""

    command: bytes
    response: bytes
    at: float

    @classmethod
    def record(cls, command: bytes, response: bytes) -> LogEntry:
        return cls(mask(command), response, time.time())

    @property
    def name(self) -> str:
        try:
            return describe(parse(self.command))
        except CardError:
            return "(malformed)"

    @property
    def sw(self) -> int:
        return int.from_bytes(self.response[-2:], "big") if len(self.response) >= 2 else 0

    def line(self) -> str:
        """``C> 00 20 00 01 04 ** ** ** **  VERIFY ref 01 -> 63C2 (2 tries left)``."""
        command = self.command.hex(" ").upper()
        if len(self.command) > 5 and self.command[1] in SECRET_INS:
            command = self.command[:5].hex(" ").upper() + " **" * (len(self.command) - 5)
        data = len(self.response) - 2
        return f"C> {command}  {self.name} -> {self.sw:04X} {status_text(self.sw)}" + (
            f" [{data} bytes]" if data > 0 else ""
        )
