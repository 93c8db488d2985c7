"""The PC/SC probe, run as a child process: ``python -m harness.diagnose.reader_child``.

Why a child: libpcsclite reads ``PCSCLITE_CSOCK_NAME`` once per process, so only a fresh
process can be pointed at a given pcscd (a world's private one, or the system's). It asks the
service, lists the readers and their cards (ATR), selects the CPS application and reads the
PIN's and PUK's status with VERIFY without data (``00 20 00 01 00``), which never spends a try.
It leaves the card as it found it (``SCARD_LEAVE_CARD``: a verified PIN stays verified).

Prints one JSON object (``service``, ``error``, ``readers`` [{name, present, atr, select_sw}],
``card_reader``, ``pin_sw``, ``puk_sw``, ``card_error``); exit status 0 whatever it found.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from smartcard import scard

from simulators.card.pkcs15 import APP_AID as CPS_AID  # the CPS3 IAS-ECC application (a light, pure module)

SW_OK = 0x9000
SELECT_CPS = [0x00, 0xA4, 0x04, 0x0C, len(CPS_AID), *CPS_AID]
PIN_STATUS = [0x00, 0x20, 0x00, 0x01, 0x00]
PUK_STATUS = [0x00, 0x20, 0x00, 0x02, 0x00]


def _error(rc: int) -> str:
    return f"{scard.SCardGetErrorMessage(rc).strip()} (0x{rc & 0xFFFFFFFF:08X})"


def transmit(card: int, protocol: int, apdu: list[int]) -> int:
    """One command; its status word. Raises OSError when the transport fails (card pulled out)."""
    rc, response = scard.SCardTransmit(card, protocol, apdu)
    if rc != scard.SCARD_S_SUCCESS:
        raise OSError(_error(rc))
    if len(response) < 2:
        raise OSError("the card gave no status word")
    return int((response[-2] << 8) | response[-1])


def probe_card(context: int, reader: dict[str, Any], report: dict[str, Any]) -> bool:
    """Select the CPS application in ``reader``; on success also read the codes' status. True if CPS."""
    rc, card, protocol = scard.SCardConnect(
        context, reader["name"], scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
    )
    if rc != scard.SCARD_S_SUCCESS:
        report["card_error"] = f"SCardConnect: {_error(rc)}"
        return False
    try:
        reader["select_sw"] = transmit(card, protocol, SELECT_CPS)
        if reader["select_sw"] != SW_OK:
            return False
        report["card_reader"] = reader["name"]
        report["pin_sw"] = transmit(card, protocol, PIN_STATUS)
        report["puk_sw"] = transmit(card, protocol, PUK_STATUS)
        return True
    except OSError as exc:
        report["card_error"] = f"SCardTransmit: {exc}"
        return False
    finally:
        scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)


def probe() -> dict[str, Any]:
    report: dict[str, Any] = {"service": False, "error": "", "readers": [], "card_reader": None}
    rc, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if rc != scard.SCARD_S_SUCCESS:
        report["error"] = f"SCardEstablishContext: {_error(rc)}"
        return report
    report["service"] = True
    try:
        rc, names = scard.SCardListReaders(context, [])
        if rc == scard.SCARD_E_NO_READERS_AVAILABLE:
            return report
        if rc != scard.SCARD_S_SUCCESS:
            report["error"] = f"SCardListReaders: {_error(rc)}"
            return report
        rc, states = scard.SCardGetStatusChange(context, 0, [(name, scard.SCARD_STATE_UNAWARE) for name in names])
        if rc != scard.SCARD_S_SUCCESS:
            report["error"] = f"SCardGetStatusChange: {_error(rc)}"
            states = [(name, 0, []) for name in names]
        readers = [
            {"name": name, "present": bool(event & scard.SCARD_STATE_PRESENT), "atr": bytes(atr).hex()}
            for name, event, atr in states
        ]
        report["readers"] = readers
        for reader in readers:
            if reader["present"] and probe_card(context, reader, report):
                break
        return report
    finally:
        scard.SCardReleaseContext(context)


def main() -> int:
    print(json.dumps(probe()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
