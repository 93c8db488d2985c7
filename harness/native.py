"""Small C helpers built on this machine at first use and cached by the hash of their source.

Some fixes can only live in native code loaded into a program we do not own: the PKCS#11
auto-login wrapper inside Chromium, vpcd's loopback shim and reader guard inside pcscd. They
are shipped as C source (a wheel stays architecture-free) and compiled with the system's gcc,
which the project already needs for pyscard. The cache key covers the source and the compiler
arguments, so an edited source or flag never loads a stale library, and a finished library is
renamed into place: parallel runs (xdist workers, worlds in threads) never load a half-written
file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness.cache import default_cache_dir
from harness.errors import SetupError

COMPILER = "gcc"
COMPILE_TIMEOUT = 60.0
"""Seconds gcc may take for one of these few-dozen-line files (it takes about 0.1 s)."""


class NativeBuildError(SetupError):
    """A C helper could not be built; the message carries gcc's own words and the fix."""


def shared_library(
    source: Path, *, cflags: Sequence[str] = (), libs: Sequence[str] = (), cache_dir: Path | None = None
) -> Path:
    """The shared library built from ``source``: from the cache, or compiled now."""
    try:
        text = source.read_bytes()
    except OSError as exc:
        raise NativeBuildError(f"{source} is missing ({exc}): reinstall cps-harness") from exc
    arguments = ["-shared", "-fPIC", "-O2", "-Wall", *cflags]
    key = hashlib.sha256(text + b"\0" + "\0".join([*arguments, *libs]).encode()).hexdigest()[:12]
    directory = cache_dir or default_cache_dir()
    target = directory / f"{source.stem}-{key}.so"
    if target.exists():
        return target
    compiler = shutil.which(COMPILER)
    if compiler is None:
        raise NativeBuildError(f"{COMPILER} not found (needed to build {source.name}): run `cps-harness setup`")
    directory.mkdir(parents=True, exist_ok=True)
    descriptor, partial = tempfile.mkstemp(prefix=f".{source.stem}-", suffix=".tmp", dir=directory)
    os.close(descriptor)
    try:
        done = subprocess.run(
            [compiler, *arguments, "-o", partial, str(source), *libs],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMPILE_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            raise NativeBuildError(f"{COMPILER} could not build {source.name}: {(done.stderr or done.stdout).strip()}")
        os.replace(partial, target)
    except subprocess.TimeoutExpired:
        raise NativeBuildError(f"{COMPILER} did not build {source.name} within {COMPILE_TIMEOUT:.0f} s") from None
    finally:
        Path(partial).unlink(missing_ok=True)
    return target
