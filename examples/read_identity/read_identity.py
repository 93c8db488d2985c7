#!/usr/bin/env python3
"""Read the card holder's identity from a CPS card (CPS3, IAS-ECC) through PC/SC with pyscard.

A worked example of talking to a T=0 card by hand: pyscard sends exactly the bytes it is
given, so this client answers ``61xx`` with GET RESPONSE and ``6Cxx`` by resending with the
right Le itself. It selects the CPS application, reads the business objects (each a DER
SEQUENCE of UTF8Strings) and, with ``--pin``, verifies the PIN and reads the activities.

Exit status: 0 read; 1 the card said no (wrong or blocked PIN, not a CPS card, unexpected
status word, card pulled out); 2 usage error, no PC/SC service, no reader or no card.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import Iterator, Sequence

from smartcard.CardConnection import CardConnection
from smartcard.Exceptions import NoCardException, SmartcardException
from smartcard.pcsc.PCSCExceptions import BaseSCardException
from smartcard.scard import SCARD_UNPOWER_CARD
from smartcard.System import readers

CPS_AID = bytes.fromhex("E828BD080F8025000001FF0010")
"""The CPS3 IAS-ECC application; its DF holds the business objects."""
ID_CARD_FID, NAME_FID, INFO_FID = 0x7102, 0x7103, 0x7105
FIRST_ACTIVITY_FID, MAX_ACTIVITIES = 0xD120, 16
PIN_REFERENCE = 0x01

ID_CARD_FIELDS = ("card_type", "serial_number", "expiry_date")
NAME_FIELDS = ("national_id_type", "national_id", "civility", "last_name", "first_name")
INFO_FIELDS = ("profession_code", "profession", "category", "specialty")
ACTIVITY_FIELDS = ("mode", "sector", "structure_id", "structure_name", "postcode", "city")
NATIONAL_ID_TYPES = {"8": "RPPS", "0": "ADELI"}
MODES = {"L": "libéral", "S": "salarié"}

SW_OK, SW_FILE_NOT_FOUND, SW_SECURITY, SW_BLOCKED = 0x9000, 0x6A82, 0x6982, 0x6983
READ_CHUNK = 256
"""READ BINARY returns at most 256 bytes (Le byte 00)."""


class CardError(Exception):
    """The card refused or answered something unexpected (exit status 1)."""


class SetupError(Exception):
    """No PC/SC service, no reader or no card (exit status 2)."""


# -- the TLV and DER the card speaks -------------------------------------------------------------
def tlvs(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Split BER-TLV objects with one-byte tags (all this card uses) and definite lengths."""
    i = 0
    while i < len(data):
        if i + 2 > len(data) or data[i] & 0x1F == 0x1F:
            raise ValueError(f"bad TLV at byte {i}")
        tag, length = data[i], data[i + 1]
        i += 2
        if length & 0x80:  # long form: the low bits count the length bytes that follow
            count = length & 0x7F
            if not 1 <= count <= 2 or i + count > len(data):
                raise ValueError(f"bad length at byte {i - 1}")
            length, i = int.from_bytes(data[i : i + count], "big"), i + count
        if i + length > len(data):
            raise ValueError(f"TLV {tag:02X} runs past the end")
        yield tag, data[i : i + length]
        i += length


def utf8_strings(der: bytes) -> list[str]:
    """``30 L { 0C L text }…``: a DER SEQUENCE of UTF8Strings, as a list of str."""
    objects = list(tlvs(der))
    if len(objects) != 1 or objects[0][0] != 0x30:
        raise ValueError("not one SEQUENCE")
    strings = []
    for tag, value in tlvs(objects[0][1]):
        if tag != 0x0C:
            raise ValueError(f"tag {tag:02X} is not a UTF8String")
        strings.append(value.decode("utf-8"))
    return strings


def fields(der: bytes, names: Sequence[str], fid: int) -> dict[str, str]:
    """Name the strings of a business object (later fields, if any, are ignored)."""
    try:
        values = utf8_strings(der)
    except ValueError as exc:  # UnicodeDecodeError is a ValueError too
        raise CardError(f"EF {fid:04X} is not a SEQUENCE of UTF8Strings: {exc}") from exc
    if len(values) < len(names):
        raise CardError(f"EF {fid:04X} has {len(values)} fields, {len(names)} expected")
    return dict(zip(names, values, strict=False))


# -- T=0, the long way --------------------------------------------------------------------------
class Card:
    """One card connection; every command goes through ``transmit`` and its T=0 handling."""

    def __init__(self, connection: CardConnection) -> None:
        self.connection = connection

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one command; return all its response data and the final status word.

        ``6Cxx``: wrong Le, the card has xx bytes: resend the same (case-2) command with Le=xx.
        ``61xx``: xx bytes are waiting (00: 256 or more): fetch them with GET RESPONSE, as often
        as the card says more is waiting.
        """
        data, sw1, sw2 = self.connection.transmit(list(apdu))
        if sw1 == 0x6C:
            data, sw1, sw2 = self.connection.transmit([*apdu[:4], sw2])
        received = bytes(data)
        while sw1 == 0x61:
            data, sw1, sw2 = self.connection.transmit([0x00, 0xC0, 0x00, 0x00, sw2])
            received += bytes(data)
        return received, (sw1 << 8) | sw2

    def select_application(self) -> None:
        """SELECT by name, P2=0C: no FCP wanted (so no 61xx either)."""
        _, sw = self.transmit(bytes([0x00, 0xA4, 0x04, 0x0C, len(CPS_AID)]) + CPS_AID)
        if sw == SW_FILE_NOT_FOUND:
            raise CardError("not a CPS card: no CPS application (SELECT answered 6A82)")
        if sw != SW_OK:
            raise CardError(f"SELECT the CPS application: the card answered {sw:04X}")

    def select_ef(self, fid: int) -> int | None:
        """SELECT an EF of the application by id with its FCP (P2=04); its size, None if absent.

        On T=0 a case-4 command goes without Le: the FCP comes back through 61xx + GET RESPONSE.
        """
        fcp, sw = self.transmit(bytes([0x00, 0xA4, 0x02, 0x04, 0x02]) + fid.to_bytes(2, "big"))
        if sw == SW_FILE_NOT_FOUND:
            return None
        if sw != SW_OK:
            raise CardError(f"SELECT EF {fid:04X}: the card answered {sw:04X}")
        try:
            template = dict(tlvs(fcp))[0x62]
            size = dict(tlvs(template))[0x80]  # 62 { 80 02 <size> 82 … 83 … }
        except (KeyError, ValueError) as exc:
            raise CardError(f"EF {fid:04X}: no file size in its FCP {fcp.hex(' ')}") from exc
        return int.from_bytes(size, "big")

    def read_ef(self, fid: int) -> bytes:
        """SELECT an EF and read all of it."""
        size = self.select_ef(fid)
        if size is None:
            raise CardError(f"EF {fid:04X} not found (6A82)")
        return self.read_selected(fid, size)

    def read_selected(self, fid: int, size: int) -> bytes:
        """READ BINARY the selected EF in chunks of at most 256 bytes (Le byte 00 means 256)."""
        content = b""
        while len(content) < size:
            offset, wanted = len(content), min(READ_CHUNK, size - len(content))
            data, sw = self.transmit(bytes([0x00, 0xB0, offset >> 8, offset & 0xFF, wanted & 0xFF]))
            if sw == SW_SECURITY:
                raise CardError(f"EF {fid:04X} needs the PIN (6982)")
            if sw != SW_OK or not data:
                raise CardError(f"READ BINARY EF {fid:04X} at {offset}: the card answered {sw:04X}")
            content += data
        return content

    def verify_pin(self, pin: str) -> None:
        """VERIFY the PIN (ASCII digits, no padding); CardError with the tries left if wrong."""
        code = pin.encode("ascii")
        _, sw = self.transmit(bytes([0x00, 0x20, 0x00, PIN_REFERENCE, len(code)]) + code)
        if sw == SW_OK:
            return
        if sw & 0xFFF0 == 0x63C0:
            tries = sw & 0x0F
            raise CardError(f"wrong PIN: {tries} {'try' if tries == 1 else 'tries'} left (63C{tries:X})")
        if sw == SW_BLOCKED:
            raise CardError("the PIN is blocked (6983); unblock it with the PUK")
        raise CardError(f"VERIFY: the card answered {sw:04X}")

    def select_activities(self) -> Iterator[tuple[int, int]]:
        """SELECT the activity EFs D120, D121, … until 6A82; yield each one's id and size.

        SELECT needs no PIN, READ BINARY does (6982 until VERIFY succeeds). Each EF stays
        selected until the caller asks for the next one, so it can read it in between.
        """
        for fid in range(FIRST_ACTIVITY_FID, FIRST_ACTIVITY_FID + MAX_ACTIVITIES):
            size = self.select_ef(fid)
            if size is None:
                return
            yield fid, size


# -- readers --------------------------------------------------------------------------------------
def connect(reader_index: int | None) -> tuple[str, CardConnection]:
    """Connect to the card in reader ``reader_index``, or in the first reader that has one."""
    try:
        found = readers()
    except BaseSCardException as exc:
        raise SetupError(f"no PC/SC service ({exc}); is pcscd running?") from exc
    if not found:
        raise SetupError("no smart card reader found")
    if reader_index is not None:
        if not 0 <= reader_index < len(found):
            names = ", ".join(f"{i}: {r}" for i, r in enumerate(found))
            raise SetupError(f"no reader {reader_index}; readers are {names}")
        candidates = [found[reader_index]]
    else:
        candidates = list(found)
    for reader in candidates:
        connection = reader.createConnection()
        try:
            # Power the card down when we leave: the verified PIN does not outlive this tool.
            connection.connect(disposition=SCARD_UNPOWER_CARD)
        except NoCardException:
            continue
        return str(reader), connection
    raise SetupError("no card in " + ", ".join(str(r) for r in candidates))


# -- the report -----------------------------------------------------------------------------------
def line(label: str, value: str) -> None:
    print(f"{label + ':':<13} {value}")


def iso_date(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}" if len(yyyymmdd) == 8 else yyyymmdd


def report(card: Card, pin: str | None) -> None:
    """Print the holder, then (after the PIN) the activities."""
    card.select_application()
    id_card = fields(card.read_ef(ID_CARD_FID), ID_CARD_FIELDS, ID_CARD_FID)
    name = fields(card.read_ef(NAME_FID), NAME_FIELDS, NAME_FID)
    info = fields(card.read_ef(INFO_FID), INFO_FIELDS, INFO_FID)

    id_type = NATIONAL_ID_TYPES.get(name["national_id_type"], f"type {name['national_id_type']}")
    line("Holder", f"{name['civility']} {name['first_name']} {name['last_name']}")
    line("National id", f"{name['national_id']} ({id_type})")
    specialty = f", specialty {info['specialty']}" if info["specialty"] else ""
    line("Profession", f"{info['profession_code']} {info['profession']}{specialty}")
    line("Card", f"{id_card['card_type']}, serial {id_card['serial_number']}")
    line("Expires", iso_date(id_card["expiry_date"]))

    if pin is None:
        count = sum(1 for _ in card.select_activities())
        line("Activities", f"{count} (PIN-protected: give --pin to read them)")
        return
    card.verify_pin(pin)
    line("PIN", "verified")
    activities = [fields(card.read_selected(fid, size), ACTIVITY_FIELDS, fid) for fid, size in card.select_activities()]
    line("Activities", str(len(activities)))
    for number, a in enumerate(activities, 1):
        mode = f"{a['mode']} ({MODES.get(a['mode'], '?')})"
        place = " ".join(part for part in (a["postcode"], a["city"]) if part)
        print(f"  {number}. {mode}, sector {a['sector']}: {a['structure_name']} [{a['structure_id']}], {place}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Read the card holder's identity from a CPS card.")
    parser.add_argument("--reader", type=int, metavar="N", help="reader index (default: the first with a card)")
    parser.add_argument("--pin", metavar="PIN", help="verify this PIN and read the activities ('-' to be asked)")
    args = parser.parse_args(argv)
    if args.pin == "-":
        args.pin = getpass.getpass("PIN: ")
    if args.pin is not None and not (args.pin.isascii() and args.pin.isdigit() and 4 <= len(args.pin) <= 8):
        parser.error("the PIN is 4 to 8 digits")  # never echo it
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    connection: CardConnection | None = None
    try:
        reader, connection = connect(args.reader)
        line("Reader", reader)
        report(Card(connection), args.pin)
    except SetupError as exc:
        print(f"read_identity: {exc}", file=sys.stderr)
        return 2
    except CardError as exc:
        print(f"read_identity: {exc}", file=sys.stderr)
        return 1
    except SmartcardException as exc:  # a mute card, a card pulled out…
        print(f"read_identity: card error: {exc}", file=sys.stderr)
        return 1
    finally:
        if connection is not None:
            with contextlib.suppress(SmartcardException):  # the card may already be gone
                connection.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
