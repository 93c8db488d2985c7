"""The console's live fault switches: each one is an action of the scenario format, played ad hoc.

A switch plays an existing action (``harness/scenario/actions``) against the running stage, so each
fault has one implementation, shared with the scenario files: pulling the card is ``card.remove``,
a failing signature ``card.fault`` with the status word a real card answers, TLS 1.3 on Test SSL
``testssl.tls_max``, lost SMS ``outbox.drop``, the phone's answers ``phone.refuse``/``phone.ignore``,
two days passing ``clock.advance``. The wrong PIN is how the scenario files make a PIN wrong: the
``pin`` a card step types; while that switch is on, the console's card steps type a wrong one.
Which switches a path offers depends on its world (cards, phones): ``available``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.scenario.actions.browser import CardFollow, CardOpen
from harness.scenario.model import Scenario, Step
from harness.scenario.personas import phones

WRONG_PIN = "0000"
"""The PIN the professional mistypes (another one when the path's own PIN is this one)."""


@dataclass(frozen=True)
class Switch:
    id: str
    label: str
    """The button's words, in French."""
    help: str
    """What it does to the world, in French (the button's tooltip)."""
    action: str | None = None
    """The scenario action it plays (None: it changes how the console plays later card steps)."""
    value: Any = None
    """The action's value, as a scenario file writes it (``{persona}`` stands for the card's owner)."""
    needs: str = ""
    """``card``: the path has readers; ``owner``: a persona with a card; ``phone``: the path uses the e-CPS app."""
    pin: bool | None = None
    """A PIN switch: True makes later card steps type a wrong PIN, False the right one again."""

    def step(self, scenario: Scenario) -> Step | None:
        """The step this switch plays in ``scenario``'s world (None for the PIN switches)."""
        if self.action is None:
            return None
        value = self.value
        if self.needs == "owner":
            value = {**value, "persona": card_owner(scenario)}
        return Step.model_validate({self.action: value})


_ALL = (
    Switch("retirer-carte", "Retirer la carte", "La carte CPS est retirée du lecteur.", "card.remove", 0, "card"),
    Switch(
        "inserer-carte", "Insérer la carte", "La carte CPS du professionnel est insérée dans le lecteur.",
        "card.insert", {}, "owner",
    ),
    Switch(
        "code-faux", "Code porteur faux", "Aux étapes suivantes, le professionnel tape un code porteur faux.",
        needs="owner", pin=True,
    ),
    Switch(
        "code-juste", "Code porteur juste", "Aux étapes suivantes, le professionnel tape le bon code porteur.",
        needs="owner", pin=False,
    ),
    Switch(
        "echec-signature", "Échec de signature",
        "La carte échoue l'opération de signature (elle répond 6F00 à INTERNAL AUTHENTICATE).",
        "card.fault", {"status_words": {"INTERNAL AUTHENTICATE": "6F00"}}, "card",
    ),
    Switch("carte-reparee", "Carte réparée", "La carte fonctionne de nouveau normalement.", "card.fault", {}, "card"),
    Switch(
        "tls-1-3", "Test SSL en TLS 1.3",
        "Le Test SSL n'accepte plus que TLS 1.3, qui exige une signature RSA-PSS que la carte ne sait pas faire.",
        "testssl.tls_max", "1.3", "card",
    ),
    Switch("tls-1-2", "Test SSL en TLS 1.2", "Le Test SSL accepte TLS 1.2 à nouveau.", "testssl.tls_max", "1.2",
           "card"),
    Switch(
        "sms-perdus", "SMS perdus", "Les SMS envoyés au professionnel n'arrivent jamais.", "outbox.drop",
        {"channel": "sms"},
    ),
    Switch(
        "refuser-notification", "Refuser la notification",
        "Sur le téléphone, le professionnel refuse la notification e-CPS affichée.", "phone.refuse", None, "phone",
    ),
    Switch(
        "ignorer-notification", "Ignorer la notification",
        "Le professionnel ne répond pas à la notification : elle expire (l'horloge avance de 121 s).",
        "phone.ignore", None, "phone",
    ),
    Switch(
        "horloge-48h", "Horloge + 48 h", "Deux jours passent (délai de mise à jour de l'annuaire).", "clock.advance",
        "+48h",
    ),
)  # fmt: skip
SWITCHES: dict[str, Switch] = {s.id: s for s in _ALL}
"""The console's switches, in the order of their buttons."""


def card_owner(scenario: Scenario) -> str | None:
    """The first persona of the path with a card: whose card the switch inserts."""
    return next((name for name, persona in scenario.personas.items() if persona.card is not None), None)


def available(scenario: Scenario) -> frozenset[str]:
    """The switches that make sense in this path's world."""
    has = {
        "": True,
        "card": scenario.world.cards,
        "owner": scenario.world.cards and card_owner(scenario) is not None,
        "phone": any(step.entry.on_phone for step in scenario.steps) and bool(phones(scenario.personas.values())),
    }
    return frozenset(s.id for s in SWITCHES.values() if has[s.needs])


def with_pin(step: Step, wrong: bool) -> Step:
    """``step`` as the console plays it: a card step types a wrong PIN while the PIN switch is on."""
    if not wrong or not isinstance(step.args, CardOpen | CardFollow):
        return step
    pin = WRONG_PIN if step.args.pin != WRONG_PIN else "9999"
    return step.model_copy(update={"args": step.args.model_copy(update={"pin": pin})})
