"""The value types scenario files are written with: strict mappings, text, durations, readers, sites, phones.

Shared by the file format (``model.py``), the personas and every action's argument model, so a
value means the same thing wherever a file writes it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from simulators.world.clock import _DELTA, EARLIEST, LATEST, MAX_DURATION, parse_delta
from simulators.world.ecps import PushStatus

Site = Literal["wallet", "wallet-card", "psc", "sidep", "push", "testssl", "admin"]
"""The world's sites a step can name (``World.urls``)."""


class Strict(BaseModel):
    """A mapping of a scenario file: unknown fields are errors, values do not change once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _text(value: Any) -> Any:
    """Codes, PINs and versions are text: YAML reads unquoted ``0012`` as 12 and ``1.3`` as a number."""
    if isinstance(value, bool | int | float):
        kind = "number" if not isinstance(value, bool) else "boolean"
        raise PydanticCustomError(
            "text_expected", f"write it in quotes: unquoted, YAML reads it as the {kind} {value!r}, not as text"
        )
    return value


LONGEST = MAX_DURATION
"""The longest duration a file may write: the world's own bound (100 years). The guide's longest wait
is 72 hours and a card's certificates live 3 years; beyond a century a duration is a typo."""
CLOCK_RANGE = (EARLIEST, LATEST)
"""Where a scenario's world clock may start and go (from its start through every ``clock.advance``):
the world clock's own bounds (``simulators/world/clock.py`` says why), checked by ``check`` so that
``run`` never meets them halfway through."""


def _duration(value: str) -> str:
    parse_delta(value)  # its ValueError names the accepted forms and the longest (``LONGEST``)
    return value


Text = Annotated[str, BeforeValidator(_text)]
"""A string argument; it may hold ``{placeholders}``, filled at run time."""
OptionalText = Annotated[str | None, BeforeValidator(_text)]
Reader = Annotated[int, Field(ge=0, le=1)]
Duration = Annotated[
    str,
    BeforeValidator(_text),
    AfterValidator(_duration),
    Field(
        description="a duration: +48h, 3d, 90s or 1h30min; 100 years at most",
        json_schema_extra={"pattern": _DELTA.pattern},
    ),
]
TlsVersion = Annotated[Literal["1.2", "1.3"], BeforeValidator(_text)]
SAVED_NAME = r"^[a-z_][a-z0-9_]*$"
"""A name a step saves a value under, usable later as ``{name}``."""
DEVICE = r"^[A-Za-z0-9-]{1,64}$"


def _device(value: str) -> str:
    if not re.fullmatch(DEVICE, value):
        raise PydanticCustomError("device_name", f"a phone's name is letters, digits and - (64 at most), not {value!r}")
    return value


Device = Annotated[
    str,
    BeforeValidator(_text),
    AfterValidator(_device),
    Field(description="a phone's name: letters, digits and -, 64 at most", json_schema_extra={"pattern": DEVICE}),
]
"""A virtual phone with the e-CPS app, by name (its page is ``/telephone/<name>`` on the push site)."""


class PushOnPhone(Strict):
    """The state of the last push a phone received (``expect: {push: {device: telephone-2, state: withdrawn}}``)."""

    device: Device | None = Field(
        default=None, description="the phone (one of the personas' `ecps_devices`); optional with one phone"
    )
    state: PushStatus = Field(
        description="pending; approved, refused or failed (answered on this phone: failed locked its e-CPS); "
        "expired (nobody answered in 120 s); withdrawn (another phone of the person answered first)"
    )
