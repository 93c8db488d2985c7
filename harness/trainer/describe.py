"""What the console page shows, as JSON: the session, the path and its steps, the last step's verdict,
the professional's view, the fault switches, the trainer's own browser.

Built from the live session on every request (``GET /api/state`` and the answer of each operation),
so the page never holds state of its own. Texts are French; keys are the API's (English).
"""

from __future__ import annotations

from typing import Any

from harness.scenario.actions import ACTIONS
from harness.scenario.french import action_words, page_address, request_failure
from harness.scenario.model import Scenario, Step
from harness.trainer.live import Live, Shown
from harness.trainer.own_browser import has_display
from harness.trainer.session import WORDS, Op, State
from harness.trainer.switches import SWITCHES

STATES = {
    State.IDLE: "Choisissez un parcours.",
    State.WORKING: "En cours…",
    State.HOLDING: "Prêt",
    State.BROKEN: "Arrêté sur une erreur",
}


def step_text(step: Step) -> str:
    """What the trainer says at this step: the guide's words (``say:``), else what the action does."""
    return " ".join((step.say or "").split()) or action_words(step.action, step.args, step.entry.actor.french) + "."


def browser_error(client_error: str, apdus: list[str]) -> str:
    """Why the browser shows an error instead of a page, in the report's words (``scenario/french.py``)."""
    failure = request_failure(client_error, apdus)
    return f"Le navigateur affiche une erreur au lieu de la page. {failure}."


def expects_failure(step: Step, driver: str) -> bool:
    return step.expect is not None and bool(step.expect.for_driver(driver).fails)


def verdict(shown: Shown, driver: str) -> dict[str, str]:
    """Whether the step went as the guide says, in French: ok, an expected failure, a failure, a bug."""
    event = shown.event
    if event.error:
        return {"code": "error", "text": "Erreur du harnais (un défaut de cps-harness, pas du parcours)."}
    if not event.ok:
        return {"code": "failed", "text": "Échec inattendu : l'étape n'a pas donné ce que le guide prévoit."}
    if shown.switch is None and expects_failure(shown.step, driver):
        return {"code": "expected-failure", "text": "Échec attendu : c'est l'écran d'erreur que montre le guide."}
    return {"code": "ok", "text": "Conforme au guide."}


def shown_json(shown: Shown, number: int, driver: str) -> dict[str, Any]:
    event, action = shown.event, ACTIONS[shown.step.action]
    failure = browser_error(shown.client_error, event.apdus) if shown.client_error else ""
    return {
        "number": number,
        "step": event.index,
        "action": event.action,
        "actor": action.actor.french,
        "text": step_text(shown.step),
        "switch": SWITCHES[shown.switch].label if shown.switch else None,
        "screen": event.screen,
        "status": event.status,
        "url": event.url,
        "verdict": verdict(shown, driver),
        "browser_error": failure,
        "detail": event.detail,
        "failure": event.failure,
        "has_picture": bool(event.screenshots),
    }


def view(live: Live) -> dict[str, Any] | None:
    """The professional's screen after the last thing played: a PNG when the driver took one, else
    the page's HTML (shown in a sandboxed frame), else the browser's error in words; its address as
    the professional's address bar shows it (the site's name, not the world's loopback port)."""
    for number in range(len(live.shown), 0, -1):
        shown = live.shown[number - 1]
        event = shown.event
        if event.screenshots:
            return {"kind": "png", "src": f"/api/view/{number}.png", "url": page_address(event.url)}
        if event.snapshot:
            return {"kind": "html", "html": shown.page or event.snapshot, "url": page_address(event.url)}
        if shown.client_error:
            return {"kind": "error", "text": browser_error(shown.client_error, event.apdus)}
    return None


def phone_view(live: Live) -> dict[str, str] | None:
    """The professional's phone after the last step played, for paths with the e-CPS app."""
    for shown in reversed(live.shown):
        if shown.phone:
            return {"device": shown.device, "html": shown.phone}
    return None


def steps_json(scenario: Scenario, live: Live) -> list[dict[str, Any]]:
    played = {s.event.index: s for s in live.shown if s.switch is None}
    return [
        {
            "step": index,
            "action": step.action,
            "actor": ACTIONS[step.action].actor.french,
            "text": step_text(step),
            "played": index in played,
            "verdict": verdict(played[index], live.driver)["code"] if index in played else None,
        }
        for index, step in enumerate(scenario.steps, 1)
    ]


def following(scenario: Scenario | None, position: int) -> dict[str, Any] | None:
    """The step to play next, if any."""
    if scenario is None or position >= len(scenario.steps):
        return None
    step = scenario.steps[position]
    return {"step": position + 1, "text": step_text(step), "actor": ACTIONS[step.action].actor.french}


def state(live: Live) -> dict[str, Any]:
    session, scenario = live.session, live.scenario
    allowed = session.allowed()
    path = None
    if scenario is not None:
        path = {
            "id": scenario.id, "title": scenario.title, "guide": scenario.guide, "driver": live.driver,
            "position": session.position, "total": session.steps, "steps": steps_json(scenario, live),
        }  # fmt: skip
    last = live.shown[-1] if live.shown else None
    return {
        "state": session.state.value,
        "state_text": STATES[session.state],
        "working": WORDS[session.working] if session.working else None,
        "problem": session.problem,
        "notice": live.notice,
        "path": path,
        "last": shown_json(last, len(live.shown), live.driver) if last is not None else None,
        "view": view(live),
        "phone": phone_view(live),
        "allowed": sorted(op.value for op in allowed),
        "next": following(scenario, session.position),
        "switches": [
            {"id": s.id, "label": s.label, "help": s.help, "enabled": Op.SWITCH in allowed}
            for s in SWITCHES.values()
            if s.id in session.switches
        ],
        "applied": [{"after": a.after, "label": SWITCHES[a.switch].label} for a in session.applied],
        "own_browser": {
            "command": live.own.command(live.own_url) if live.own is not None else None,
            "url": live.own_url or None,
            "can_launch": has_display(),
        },
    }
