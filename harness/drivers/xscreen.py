"""A private X screen for a headful browser, and what a person does on it: look, and type.

Both real browsers ask for the card's PIN in a native window outside the page, which only a
headful browser shows (headless Chromium and headless Firefox both wait on an invisible prompt,
measured). The drivers run such a browser on a private Xvfb, photograph the dialog with an X
screen grab and type the PIN into it with xdotool, as a person would.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from pathlib import Path

from harness.errors import SetupError
from harness.lifetime import dies_with_owner

XVFB_TIMEOUT = 15.0
"""Seconds a private Xvfb may take to accept connections."""
XDOTOOL_TIMEOUT = 5.0
"""Seconds one xdotool command may take."""


class ScreenUnavailable(SetupError):
    """No private screen could be had; the message says why and how to fix it."""


async def start_xvfb(log: Path) -> tuple[asyncio.subprocess.Process, str]:
    """A private Xvfb on a display number Xvfb itself found free, once clients can connect to it.

    Xvfb picks the number and says it on ``-displayfd`` when ready: it claims the number with its
    lock file, so two runs (or two scenarios of one run, in one process) never share a screen.
    Picking a number ourselves raced: the loser of two Xvfb on one number lived a moment, a probe
    of the display reached the winner's server, and both browsers ran on one screen (the PIN
    dialog of one could be typed into for the other; the winner's end closed both browsers).
    """
    read_end, write_end = os.pipe()
    try:
        with log.open("ab") as errors:
            # The kernel stops it if we are killed (it used to outlive a SIGKILLed run, adopted by
            # init); its own session keeps a terminal's Ctrl-C for us, who close the browser first.
            xvfb = await asyncio.create_subprocess_exec(
                *dies_with_owner(
                    ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1280x900x24", "-nolisten", "tcp"]
                ),
                stdout=asyncio.subprocess.DEVNULL, stderr=errors, start_new_session=True, pass_fds=(write_end,),
            )  # fmt: skip
    finally:
        os.close(write_end)  # Xvfb has its own copy: the pipe ends when Xvfb does
    reader = asyncio.StreamReader()
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_end, "rb", buffering=0)
    )
    try:
        number = (await asyncio.wait_for(reader.readline(), XVFB_TIMEOUT)).strip()
    except TimeoutError:
        number = b""
    finally:
        transport.close()
    if number.isdigit():
        return xvfb, f":{int(number)}"
    await stop(xvfb)
    raise ScreenUnavailable(
        f"Xvfb gave no usable screen within {XVFB_TIMEOUT:.0f} s (exit status {xvfb.returncode}; see {log})"
    )


async def stop(xvfb: asyncio.subprocess.Process) -> None:
    if xvfb.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            xvfb.terminate()
        await asyncio.wait_for(xvfb.wait(), 10)


async def find_window(display: str, name: str) -> str | None:
    """The newest visible window whose name matches ``name`` (a regular expression), if any."""
    search = await asyncio.create_subprocess_exec(
        "xdotool", "search", "--onlyvisible", "--name", name, env={**os.environ, "DISPLAY": display},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(search.communicate(), XDOTOOL_TIMEOUT)
    windows = out.split()
    return windows[-1].decode() if windows else None


async def type_into(display: str, window: str, text: str) -> None:
    """Focus ``window``, type ``text`` (over whatever the field held) and press Enter, as a person at the keyboard."""
    env = {**os.environ, "DISPLAY": display}
    for command in (
        ["windowfocus", "--sync", window],
        ["key", "ctrl+a"],
        ["type", "--delay", "30", text],
        ["key", "Return"],
    ):
        xdotool = await asyncio.create_subprocess_exec("xdotool", *command, env=env)
        await asyncio.wait_for(xdotool.wait(), XDOTOOL_TIMEOUT)


async def press(display: str, window: str, key: str) -> None:
    """Focus ``window`` and press ``key`` (Escape: a person's "Annuler")."""
    env = {**os.environ, "DISPLAY": display}
    for command in (["windowfocus", "--sync", window], ["key", key]):
        xdotool = await asyncio.create_subprocess_exec("xdotool", *command, env=env)
        await asyncio.wait_for(xdotool.wait(), XDOTOOL_TIMEOUT)


def grab_screen(display: str) -> bytes:
    """PNG of the whole X screen: the PIN dialog is a native window, outside any page screenshot."""
    from PIL import ImageGrab

    image = ImageGrab.grab(xdisplay=display)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
