#!/usr/bin/env python3
"""Sign a file with the CPS card's authentication key through a PKCS#11 module (python-pkcs11).

The CPS card's OpenSC support signs only ``CKM_RSA_PKCS`` over a DigestInfo the caller builds
(hash-and-sign on card is not available, and there is no RSA-PSS): this tool hashes with SHA-256,
wraps the hash in its DigestInfo, and asks the card to sign that. The PIN is read from the
environment or a prompt, never from the command line.

    sign.py FILE SIGNATURE_OUT [--module PATH] [--label CPS_PRIV_AUT]
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import sys

import pkcs11
from pkcs11 import Mechanism, ObjectClass

SHA256_DIGEST_INFO = bytes.fromhex("3031300D060960864801650304020105000420")
DEFAULT_MODULE = os.environ.get("PKCS11_MODULE_PATH", "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so")


def sign(data: bytes, pin: str, module: str = DEFAULT_MODULE, label: str = "CPS_PRIV_AUT") -> bytes:
    lib = pkcs11.lib(module)
    slots = lib.get_slots(token_present=True)
    if not slots:
        raise LookupError("no card in any reader")
    token = slots[0].get_token()
    with token.open(user_pin=pin) as session:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        digest_info = SHA256_DIGEST_INFO + hashlib.sha256(data).digest()
        return bytes(key.sign(digest_info, mechanism=Mechanism.RSA_PKCS))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("signature_out")
    parser.add_argument("--module", default=DEFAULT_MODULE)
    parser.add_argument("--label", default="CPS_PRIV_AUT")
    args = parser.parse_args(argv)
    pin = os.environ.get("CPS_PIN") or getpass.getpass("Code porteur : ")
    try:
        with open(args.file, "rb") as f:
            signature = sign(f.read(), pin, args.module, args.label)
    except pkcs11.PinIncorrect:
        print("code porteur incorrect", file=sys.stderr)
        return 1
    except pkcs11.PinLocked:
        print("code porteur bloqué : débloquez-le avec le code de déblocage", file=sys.stderr)
        return 1
    except (LookupError, pkcs11.PKCS11Error) as exc:
        print(f"échec : {type(exc).__name__} {exc}", file=sys.stderr)
        return 2
    with open(args.signature_out, "wb") as f:
        f.write(signature)
    print(f"signature ({len(signature)} octets) écrite dans {args.signature_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
