"""The trainer's own Chromium on the world: one command that opens a site as the professional's PC would.

Debian's Chromium with a throwaway profile whose NSS database trusts the world's TLS CA and holds the
card's middleware (OpenSC, talking to the world's private pcscd), the sites' real host names mapped
to the world's ports, and French as its language. The trainer types the card's PIN in Chromium's
own dialog, as a professional does; the managed policy ``./bootstrap.sh`` installs picks the test
card's certificate. The console prints the command, and launches it when there is a screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from harness.drivers.chromium_setup import CHROMIUM, FRENCH, OVERRIDING_LANG, in_french
from harness.lifetime import dies_with_owner, pids_whose_command_line_has
from harness.middleware import OPENSC_MODULE, client_env, make_nss_db
from harness.world.assembly import World

STOP_TIMEOUT = 10.0
"""Seconds a launched Chromium may take to exit when the world stops."""


def has_display() -> bool:
    """A screen to open windows on (X or Wayland)."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


@dataclass
class OwnBrowser:
    """Chromium set up on one world (its NSS database is made once per world)."""

    home: Path
    env: dict[str, str]
    """What differs from the trainer's own environment."""
    args: list[str]
    launched: list[asyncio.subprocess.Process] = field(default_factory=list)

    def command(self, url: str) -> str:
        """A shell command a trainer can paste."""
        unset = [f"-u {name}" for name in OVERRIDING_LANG]
        assignments = [f"{name}={shlex.quote(value)}" for name, value in self.env.items()]
        return " ".join(["env", *unset, *assignments, shlex.join([CHROMIUM, *self.args, url])])

    async def launch(self, url: str) -> None:
        """Start it on the trainer's screen; it stops with the world (and with this process)."""
        process = await asyncio.create_subprocess_exec(
            *dies_with_owner([CHROMIUM, *self.args, url]), env=in_french({**os.environ, **self.env}),
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        self.launched.append(process)

    async def stop(self) -> None:
        for process in self.launched:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
                    await process.wait()
        self.launched.clear()
        await self._profile_released()

    async def _profile_released(self) -> None:
        """Until no process uses the profile any more (bounded): Chromium's own children (zygote,
        renderers, GPU) outlive its main process for a moment and still write into the profile, which
        the world's folder removal would then miss (a folder left behind in /tmp)."""
        marker = next(a for a in self.args if a.startswith("--user-data-dir="))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_TIMEOUT
        while pids_whose_command_line_has(marker) and loop.time() < deadline:
            await asyncio.sleep(0.1)


async def prepare(world: World, folder: Path) -> OwnBrowser:
    """The NSS database (the world's CA; OpenSC when the world has readers) and Chromium's arguments."""
    home = folder / "home"
    module = Path(OPENSC_MODULE) if world.stack is not None and os.path.exists(OPENSC_MODULE) else None
    env_for_tools = client_env(world.stack) if world.stack is not None else dict(os.environ)
    await make_nss_db(home, world.ca_bundle, module, env_for_tools)
    env = {"HOME": str(home), **FRENCH}
    if world.stack is not None:
        env.update(world.stack.env)
    args = [
        f"--user-data-dir={folder / 'profile'}",
        f"--host-resolver-rules={world.host_resolver_rules()}",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
    ]
    if os.geteuid() == 0:  # Chromium refuses to run as root without it (containers, this test bed)
        args.insert(0, "--no-sandbox")
    return OwnBrowser(home, env, args)
