"""Personas: the professionals of a scenario — who they are, what the directory holds, their card
and e-CPS — inline in a file or from a reusable persona file (``scenarios/personas/<name>.yaml``)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, GetJsonSchemaHandler, field_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from harness.card.profile import Certificates
from harness.scenario.catalogue import packaged_personas
from harness.scenario.fields import Device, Strict
from harness.yamlfile import DataFileError, read_document
from simulators import identifiers
from simulators.world.state import DEFAULT_DEVICE

PERSONA_DIR = packaged_personas()
"""The packaged persona files: found after a scenario folder's own ``personas/``."""
_PERSONA_FILES = "personas"
PERSONA_NAME = re.compile(r"\w[\w-]{0,63}")
"""What ``from:`` takes: a file name without .yaml, never a path."""


class Persona(Strict):
    """A professional: who they are, what the directory holds, their card and e-CPS."""

    civility: Literal["M", "MME"] = Field(description="M or MME")
    first_name: str = Field(description="as the directory and the card hold it (capitals)")
    last_name: str = Field(description="as the directory and the card hold it (capitals)")
    profession: str = Field(description="TRE_G15 code: 10 médecin, 21 pharmacien, 60 infirmier")
    rpps: str | None = Field(default=None, description="11 digits; national id 8 + RPPS")
    adeli: str | None = Field(
        default=None,
        description="9 characters (nurses): digits, or 2A/2B then 7 digits (Corsica); national id 0 + ADELI",
    )
    email: str | None = Field(default=None, description="as the directory holds it (None: absent)")
    mobile: str | None = Field(default=None, description="as the directory holds it (None: absent)")
    in_directory: bool = Field(default=True, description="False: the directory does not know this professional")
    ecps_password: str | None = Field(default=None, description="an e-CPS already activated with this password")
    ecps_devices: list[Device] = Field(
        default=[DEFAULT_DEVICE],
        min_length=1,
        description="the persona's phones with the e-CPS app (with `ecps_password`: activated on each); a login "
        "pushes to every one of them and the first answer withdraws the others' push; phone steps name one "
        "with `device` when a scenario has several",
    )
    card: str | None = Field(default=None, description="card profile (built-in name or YAML path) for this persona")
    card_certificates: Certificates | None = Field(
        default=None,
        description="overrides the profile's certificates: one variant for both, or {authentication: …, "
        "signature: …} (an omitted one keeps the profile's)",
    )
    card_pin_tries_left: int | None = Field(
        default=None, ge=0, le=3, description="PIN tries left on the card (overrides the profile; 0: blocked)"
    )
    card_puk_tries_left: int | None = Field(
        default=None, ge=0, le=10, description="PUK tries left on the card (overrides the profile; 0: blocked)"
    )
    card_puk_usages_left: int | None = Field(
        default=None, ge=0, le=100, description="PUK uses left on the card (overrides the profile's 100; 0: used up)"
    )

    @field_validator("ecps_devices")
    @classmethod
    def each_phone_once(cls, devices: list[str]) -> list[str]:
        if twice := sorted({d for d in devices if devices.count(d) > 1}):
            raise ValueError(f"{', '.join(twice)} named twice: each phone once")
        return devices

    @property
    def national_id(self) -> str:
        return identifiers.national_id(rpps=self.rpps, adeli=self.adeli)

    def values(self) -> dict[str, str]:
        """What ``{name.field}`` placeholders read (an absent field is empty)."""
        return {
            "national_id": self.national_id,
            "rpps": self.rpps or "",
            "adeli": self.adeli or "",
            "email": self.email or "",
            "mobile": self.mobile or "",
            "first_name": self.first_name,
            "last_name": self.last_name,
        }


def phones(personas: Iterable[Persona]) -> list[str]:
    """A scenario's phones: every persona's ``ecps_devices``, in the order written (the default phone
    when there is no persona)."""
    found = list(dict.fromkeys(device for persona in personas for device in persona.ecps_devices))
    return found or [DEFAULT_DEVICE]


def choose_phone(phones: list[str], device: str | None) -> str:
    """The phone a step means: ``device`` if it is one of ``phones``, else the only one; ValueError
    naming the phones when ``device`` is unknown or, left out, could be several."""
    named = ", ".join(phones)
    if device is None:
        if len(phones) > 1:
            raise ValueError(f"which phone? this scenario has {len(phones)} ({named}): name one with device")
        return phones[0]
    if device not in phones:
        raise ValueError(f"no phone {device!r} in this scenario; its phones (the personas' ecps_devices): {named}")
    return device


def persona_dirs(folder: Path | None) -> list[Path]:
    """Where ``from: name`` is looked up: the scenario file's own ``personas/`` folder, then the packaged one."""
    own = (
        [folder / "personas"] if folder is not None and (folder / "personas").resolve() != PERSONA_DIR.resolve() else []
    )
    return [*own, PERSONA_DIR]


def resolve_persona(value: Any, folder: Path | None = None) -> Any:
    """``name`` or ``{from: name, …overrides}`` → the persona file's fields (``personas/name.yaml`` next to
    the scenario file ``folder`` holds, else the packaged ``personas/name.yaml``)."""
    if isinstance(value, str):
        value = {"from": value}
    if not isinstance(value, dict) or "from" not in value:
        return value
    name = value["from"]
    dirs = persona_dirs(folder)
    if not isinstance(name, str) or not PERSONA_NAME.fullmatch(name):
        # a name, never a path: ``../../harness/card/profiles/doctor`` would read outside the folders
        raise ValueError(f"from: a persona file's name without .yaml (letters, digits, - and _), not {name!r}")
    path = next((d / f"{name}.yaml" for d in dirs if (d / f"{name}.yaml").is_file()), None)
    if path is None:
        known = ", ".join(sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.yaml")}))
        looked = ", ".join(str(d) for d in dirs)
        raise ValueError(f"no persona file {name!r} in {looked} (known: {known or 'none'})")
    try:
        base = read_document(path, "a persona").data
    except DataFileError as exc:  # the persona file's own place: its line, not the scenario's
        raise ValueError("; ".join(exc.problems)) from None
    if not isinstance(base, dict):
        raise ValueError(f"{path}:1: expected a mapping of persona fields")
    return {**base, **{k: v for k, v in value.items() if k != "from"}}


class PersonaAsWritten:
    """JSON Schema of a persona as files write it: its fields, a persona file's name, or ``{from: file, …}``.

    Validation resolves the last two into fields first (``Scenario.persona_files``), so only the
    schema needs telling about them.
    """

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        fields = handler(core_schema)
        persona = handler.resolve_ref_schema(fields)
        source = {
            "type": "string",
            "description": f"a persona file: {_PERSONA_FILES}/<name>.yaml next to the scenario file, else the packaged "
            "one; its name without .yaml",
        }
        overrides = {
            "type": "object",
            "title": "persona from a file",
            "description": "a persona file's fields, some overridden",
            "properties": {"from": source, **persona.get("properties", {})},
            "required": ["from"],
            "additionalProperties": False,
        }
        return {"oneOf": [fields, {**source, "title": "persona file"}, overrides]}
