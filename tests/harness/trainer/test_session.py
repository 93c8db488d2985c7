"""The trainer console's session rules, sans-IO: the state table, the plans, the faults' timeline."""

from __future__ import annotations

import pytest

from harness.scenario.actions import ACTIONS
from harness.scenario.french import ACTIONS as FRENCH_ACTIONS
from harness.scenario.loader import SCENARIO_DIR, find, load
from harness.trainer.describe import browser_error
from harness.trainer.session import ALLOWED, Op, Refused, Session, State
from harness.trainer.switches import SWITCHES, available, with_pin

SCENARIOS = {s.id: s for _, s in load(find([str(SCENARIO_DIR)]))[0]}


def holding(steps: int = 5, position: int = 0, switches: frozenset[str] = frozenset(SWITCHES)) -> Session:
    session = Session()
    plan = session.begin(Op.START, scenario="G6-02", steps=steps, switches=switches)
    session.finished(plan, 0)
    if position:
        session.finished(session.begin(Op.GOTO, target=position), position)
    return session


def test_nothing_but_choosing_a_path_before_one_is_chosen() -> None:
    session = Session()
    for op in Op:
        if op in (Op.START, Op.STOP):
            continue
        with pytest.raises(Refused, match="choisissez d'abord un parcours") as refused:
            session.begin(op)
        assert refused.value.status == 409
    plan = session.begin(Op.START, scenario="G6-02", steps=3)
    assert (plan.fresh, plan.target, session.state) == (True, 0, State.WORKING)


def test_an_operation_while_another_runs_is_refused_in_french() -> None:
    session = holding()
    session.begin(Op.NEXT)
    for op in Op:
        with pytest.raises(Refused, match="Une opération est en cours \\(passer à l'étape suivante\\)") as refused:
            session.begin(op, scenario="G6-02", steps=3, target=1, switch="sms-perdus")
        assert refused.value.status == 409
    assert ALLOWED[State.WORKING] == frozenset()


def test_next_plays_on_and_back_goto_restart_replay_in_a_fresh_world() -> None:
    session = holding(steps=3)
    plan = session.begin(Op.NEXT)
    assert (plan.fresh, plan.target) == (False, 1)
    session.finished(plan, 1)
    assert session.position == 1
    plan = session.begin(Op.GOTO, target=3)
    assert (plan.fresh, plan.target) == (False, 3), "forward: the held world plays on"
    session.finished(plan, 3)
    with pytest.raises(Refused, match="terminé"):
        session.begin(Op.NEXT)
    plan = session.begin(Op.BACK)
    assert (plan.fresh, plan.target) == (True, 2)
    session.finished(plan, 2)
    plan = session.begin(Op.GOTO, target=1)
    assert (plan.fresh, plan.target) == (True, 1), "backward: a fresh world replayed"
    session.finished(plan, 1)
    plan = session.begin(Op.RESTART)
    assert (plan.fresh, plan.target) == (True, 0)
    session.finished(plan, 0)
    with pytest.raises(Refused, match="au début"):
        session.begin(Op.BACK)


@pytest.mark.parametrize("target", [-1, 4, None])
def test_goto_outside_the_path_is_bad_input(target: int | None) -> None:
    session = holding(steps=3)
    with pytest.raises(Refused, match="entre 0 et 3") as refused:
        session.begin(Op.GOTO, target=target)
    assert refused.value.status == 400
    assert session.state is State.HOLDING, "a refused operation changes nothing"


def test_a_switch_must_exist_and_fit_the_path() -> None:
    session = holding(switches=frozenset({"horloge-48h"}))
    with pytest.raises(Refused, match="Panne inconnue"):
        session.begin(Op.SWITCH, switch="nope")
    with pytest.raises(Refused, match="ne concerne pas ce parcours"):
        session.begin(Op.SWITCH, switch="retirer-carte")
    plan = session.begin(Op.SWITCH, switch="horloge-48h")
    assert (plan.fresh, plan.switch) == (False, "horloge-48h")


def test_faults_belong_to_the_timeline() -> None:
    """A fault switched after step k comes back in a replay reaching k, and goes with one stopping before."""
    session = holding(steps=5, position=1)
    session.finished(session.begin(Op.SWITCH, switch="code-faux"), 1)
    session.finished(session.begin(Op.GOTO, target=3), 3)
    session.finished(session.begin(Op.SWITCH, switch="tls-1-3"), 3)
    assert session.faults_before(1) == ["code-faux"] and session.faults_before(3) == ["tls-1-3"]
    assert not session.wrong_pin_at(1) and session.wrong_pin_at(2) and session.wrong_pin_at(5)
    session.finished(session.begin(Op.BACK), 2)
    assert [a.switch for a in session.applied] == ["code-faux"]
    session.finished(session.begin(Op.SWITCH, switch="code-juste"), 2)
    assert session.wrong_pin_at(2) and not session.wrong_pin_at(3)
    session.finished(session.begin(Op.RESTART), 0)
    assert session.applied == []


def test_a_broken_world_can_only_be_replayed_or_left() -> None:
    session = holding(steps=3, position=2)
    session.begin(Op.NEXT)
    session.broke("Le monde ne répond plus.")
    assert (session.state, session.problem) == (State.BROKEN, "Le monde ne répond plus.")
    with pytest.raises(Refused, match="rejouez le parcours"):
        session.begin(Op.NEXT)
    plan = session.begin(Op.GOTO, target=3)
    assert plan.fresh, "after a breakdown even going forward starts a fresh world"
    assert session.problem is None


def test_a_switch_with_no_effect_leaves_the_session_as_it_was() -> None:
    session = holding(steps=3, position=2)
    plan = session.begin(Op.SWITCH, switch="refuser-notification")
    session.refused_midway(plan, "Aucune notification.")
    assert (session.state, session.position, session.applied) == (State.HOLDING, 2, [])


def test_switches_offered_follow_the_path_s_world() -> None:
    card_path, phone_path = available(SCENARIOS["G6-02"]), available(SCENARIOS["G5-03"])
    assert {"retirer-carte", "echec-signature", "tls-1-3", "code-faux"} <= card_path
    assert "refuser-notification" not in card_path
    assert {"refuser-notification", "ignorer-notification"} <= phone_path
    assert "retirer-carte" not in phone_path
    for name in card_path:  # each one's step is valid in that world
        SWITCHES[name].step(SCENARIOS["G6-02"])


def test_the_wrong_pin_is_typed_by_card_steps_only() -> None:
    g6 = SCENARIOS["G6-02"]
    card_step, other = g6.steps[2], g6.steps[0]
    assert with_pin(card_step, True).args.pin == "0000"
    assert with_pin(card_step, True).entry.as_written(with_pin(card_step, True).args)["pin"] == "0000"
    assert with_pin(card_step, False) is card_step and with_pin(other, True) is other


def test_every_action_has_french_words() -> None:
    """The console and the report tell steps from one table: a new action without French words is noticed."""
    assert set(FRENCH_ACTIONS) == set(ACTIONS)


def test_browser_errors_in_french() -> None:
    chromium = browser_error("ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED", [])
    assert chromium.startswith("Le navigateur affiche une erreur au lieu de la page.")
    assert "la carte n'a pas pu signer (ERR_SSL_CLIENT_AUTH_SIGNATURE_FAILED)" in chromium
    # curl only says TLS failed: the card's answer during the step says why
    curl = browser_error("curl exit 35: General Error", ["C> 00 88  INTERNAL AUTHENTICATE -> 6F00 no precise"])
    assert "La connexion sécurisée a échoué : la carte n'a pas pu signer." in curl
    assert "signer" not in browser_error("curl exit 35: General Error", [])
    pin = browser_error("curl exit 58: Login failed", ["C> 00 20 00 01 08 ** **  VERIFY ref 01 -> 63C1 1 tries left"])
    assert "la carte a refusé le code porteur (il reste 1 essai(s))" in pin
    status_only = ["C> 00 20 00 01 00  VERIFY ref 01 (status) -> 63C3 3 tries left"]
    assert "refusé" not in browser_error("curl exit 35: General Error", status_only)
