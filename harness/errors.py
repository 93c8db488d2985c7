"""The harness's own errors: one root, three kinds, each with its own remedy.

Whoever catches them can tell who must act:

- ``SetupError``: this machine cannot do what was asked (Chromium, Xvfb, a tool or a port is
  missing or busy); the message says what to install or free. Commands print it and exit 2.
- ``InputError``: something the user gave cannot be used as given: a scenario, persona or card
  profile file (``DataFileError``: one ``file:line: field: why`` per problem), a command-line
  argument; the message says where and how to fix it. Commands print it and exit 2.
- ``ScenarioError``: an ``InputError`` about scenarios: a selection of them (no such id) or a
  trainer's request (a step out of range).
- ``StepFailed``: a step was played and did not reach what its file expects, or could not be
  played as written (``DriverError``: no such form, link or page). The scenario fails; the run
  goes on with the next one.

Anything else raised while a step plays is a bug of the harness, and the report says so apart
from scenario failures. None of these is an ``AssertionError``: pytest must not mistake a
harness error for a failed assertion of a user's test, nor the other way round.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""


class SetupError(HarnessError):
    """Something the machine must provide is missing or busy; the message says the fix."""


class InputError(HarnessError):
    """A file or argument the user gave cannot be used as given; the message says where and the fix."""


class ScenarioError(InputError):
    """A scenario file or a request about scenarios cannot be used as given; the message says why."""


class StepFailed(HarnessError):
    """A step did not reach what the scenario expects: the scenario fails, the run goes on."""


class DriverError(StepFailed):
    """The browser cannot play the step as written (no such form, link or page)."""
