"""Scenario actions: ``registry.py`` is the table; one module per actor registers its actions there.

Importing this package registers every built-in action. The reference lists them in the order
imported here: the professional's browser and phone first, then the world around them.
"""

# isort: off
from harness.scenario.actions import browser, phone, messages, clock, offices, card, switches, diagnose

# isort: on
from harness.scenario.actions.registry import ACTIONS, Action, Actor

__all__ = ["ACTIONS", "Action", "Actor", "browser", "card", "clock", "diagnose", "messages", "offices", "phone",
           "switches"]  # fmt: skip
