"""RSA keys cached on disk by label, so a world starts in milliseconds after the first run.

RSA generation is the one slow step of the PKI (about 0.1 s for 2048 bits, seconds for 4096);
certificates are cheap and are issued afresh. Keys are test material only: they are written
unencrypted to a cache directory that belongs to the user running the harness.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from harness.cache import default_cache_dir

_PART = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
_LABEL = re.compile(rf"^{_PART}(/{_PART})*$")
"""Slash-separated parts that cannot start with a dot: no hidden files, no ``..``."""


def public_dir() -> Path:
    """Where a world puts what other local users' programs must read (its TLS CA bundle, for an Apache
    running as ``www-data``): this user's own folder in the temporary directory, mode 0755.

    The key cache stays private (keys 0600, under a home that other users may not enter); a folder
    someone else made, or that others may write, is refused, since whoever swaps the bundle is trusted.
    """
    path = Path(tempfile.gettempdir()) / f"cps-harness-{os.getuid()}-public"
    path.mkdir(mode=0o755, exist_ok=True)
    info = path.lstat()
    if info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode) or info.st_mode & 0o022:
        raise PermissionError(f"{path} is not a folder of this user's that only it may write: remove it")
    path.chmod(0o755)
    return path


class KeyStore:
    """Keys by label (``card/899700209812/auth``), created once, then read back.

    Safe across processes (pytest-xdist workers, parallel CI jobs): a new key is written to a
    temporary file and hard-linked into place; the loser of a race discards its own key and
    uses the winner's, so every process sees the same key for a label.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory or default_cache_dir()) / "keys"
        self._memory: dict[tuple[str, int], RSAPrivateKey] = {}

    def path(self, label: str, bits: int) -> Path:
        if not _LABEL.match(label):
            raise ValueError(
                f"key label {label!r}: parts of letters, digits, '.', '_', '-' (not starting with '.'), joined by '/'"
            )
        return self.directory / f"{label.replace('/', '__')}.rsa{bits}.pem"

    def rsa(self, label: str, bits: int = 2048) -> RSAPrivateKey:
        cached = self._memory.get((label, bits))
        if cached is not None:
            return cached
        path = self.path(label, bits)
        key = self._load(path) if path.exists() else self._create(path, bits)
        self._memory[(label, bits)] = key
        return key

    @staticmethod
    def _load(path: Path) -> RSAPrivateKey:
        # The cache holds keys this class generated; re-validating them costs 0.3 s for an
        # RSA-4096 key, most of a world's start-up, and protects against nothing here.
        key = serialization.load_pem_private_key(path.read_bytes(), password=None, unsafe_skip_rsa_key_validation=True)
        if not isinstance(key, RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA key; delete it to have it made again")
        return key

    def _create(self, path: Path, bits: int) -> RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".new-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
            os.link(tmp, path)
        except FileExistsError:
            return self._load(path)
        finally:
            os.unlink(tmp)
        return key
