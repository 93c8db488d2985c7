"""The screen ids a scenario file may expect: the sites' catalogue (``simulators/web/screens.py``).

A misspelt screen in ``expect`` would otherwise load, play, and fail on the step with "screen
'saisie-code', expected…", after a world was started; checked when the file loads, it is a
``file:line: field`` problem of ``cps-harness check`` that names the ids it was probably meant to be.
"""

from __future__ import annotations

import difflib
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from simulators.web.screens import SHOWN, Screen

SCREEN_IDS: tuple[str, ...] = tuple(screen.value for screen in SHOWN)
"""Every id some page carries, in the catalogue's order."""
REFERENCE_PAGE = "docs/reference/screens.md"
RENAMED = {
    "carte-absent": Screen.AUCUN_CERTIFICAT,
    "carte-unknown-ca": Screen.AUTORITE_INCONNUE,
    "carte-expired": Screen.CERTIFICAT_EXPIRE,
    "carte-not-yet-valid": Screen.CERTIFICAT_PAS_ENCORE_VALIDE,
    "carte-revoked": Screen.CERTIFICAT_REVOQUE,
    "carte-bad-usage": Screen.CERTIFICAT_INADAPTE,
    "carte-valid": Screen.CERTIFICAT_INADAPTE,
}
"""PSC's card refusals before they took the wallet's and Test SSL's ids: a file still naming one is told the new id."""


def _known_screen(value: str) -> str:
    if value in SCREEN_IDS:
        return value
    refusal = next((screen for screen in Screen if screen.value == value), None)
    if refusal is not None:  # in the catalogue, but no page carries it
        raise PydanticCustomError(
            "screen_not_shown",
            "no page shows '{screen}': {situation}",
            {"screen": value, "situation": refusal.situation},
        )
    if value in RENAMED:
        raise PydanticCustomError(
            "renamed_screen",
            "'{screen}' is now '{new}', as on every site",
            {"screen": value, "new": RENAMED[value].value},
        )
    closest = difflib.get_close_matches(value, SCREEN_IDS, n=3)
    hint = f"did you mean {', '.join(closest)}?" if closest else f"the screens are listed in {REFERENCE_PAGE}"
    raise PydanticCustomError(
        "unknown_screen", "no site shows a screen '{screen}'; {hint}", {"screen": value, "hint": hint}
    )


ScreenId = Annotated[str, AfterValidator(_known_screen), Field(json_schema_extra={"enum": list(SCREEN_IDS)})]
"""A screen id of the catalogue that some page carries (``data-screen``)."""
