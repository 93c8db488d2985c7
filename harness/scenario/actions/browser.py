"""The professional's browser: pages, forms, links, and pages opened with the card (TLS client auth).

The browser itself is the driver's (``harness/drivers``: the protocol client or Chromium); these
handlers say what to ask of it and sum up what happened.
"""

from __future__ import annotations

from pydantic import Field

from harness.scenario.actions.registry import Actor
from harness.scenario.fields import Site, Strict, Text
from harness.scenario.stage import Stage

BROWSER = Actor(
    "browser", "Le navigateur", professional=True, on_screen=True,
    produces=frozenset({"fails", "browser_error", "error"}),
)  # fmt: skip
DEFAULT_PIN = "1234"
"""The PIN typed when a card step names none: the built-in profiles' code porteur."""


class Open(Strict):
    """``browser.open``: the page to GET."""

    site: Site = Field(description="the site (see Sites)")
    path: Text = Field(default="/", description="the path on that site")


class CardOpen(Open):
    """``browser.card_open``: the page to GET with the card's TLS client authentication."""

    persona: Text = Field(description="whose card (a persona of the file, its card in a reader)")
    pin: Text = Field(default=DEFAULT_PIN, description="the PIN typed when the middleware asks")


class CardFollow(Strict):
    """``browser.card_follow``: the link to follow with the card."""

    link: Text = Field(description="text the link contains")
    persona: Text = Field(description="whose card (a persona of the file)")
    pin: Text = Field(default=DEFAULT_PIN, description="the PIN typed when the middleware asks")


SECRET_FORM_FIELDS = ("password", "mot_de_passe", "pin", "puk", "new_pin", "ecps_password")
"""Form fields that hold a code or a password, whatever the page."""


def page_url(stage: Stage, args: Open) -> str:
    """The URL a ``browser.open`` or ``browser.card_open`` step asks for."""
    return stage.world.urls[args.site] + args.path


def _failure(stage: Stage) -> str:
    return f" — {stage.browser.client_error}" if stage.browser.request_failed else ""


@BROWSER.action("open", Open, "GET a page")
async def open_page(stage: Stage, args: Open) -> str:
    await stage.browser.open(page_url(stage, args))
    return f"{args.site}{args.path}" + _failure(stage)


@BROWSER.action(
    "submit", dict[str, Text], "submit the page's form with these fields", value="a mapping field → value",
    secrets=SECRET_FORM_FIELDS,
)  # fmt: skip
async def submit(stage: Stage, fields: dict[str, str]) -> str:
    return await stage.browser.submit(fields)


@BROWSER.action("follow", Text, "follow the link whose text contains this string")
async def follow(stage: Stage, text: str) -> str:
    await stage.browser.follow(text)
    return f"link {text!r}"


@BROWSER.action("back", None, "go back to the previous page (reloaded)")
async def back(stage: Stage, _: None) -> str:
    return await stage.browser.back()


@BROWSER.action(
    "card_open", CardOpen, "GET a page with TLS client authentication by the card", secrets={"pin"},
    card_in_browser=True,
)  # fmt: skip
async def card_open(stage: Stage, args: CardOpen) -> str:
    await stage.browser.card_open(page_url(stage, args), stage.card_certificate(args.persona), args.pin)
    return f"{args.site}{args.path} with {args.persona}'s card" + _failure(stage)


@BROWSER.action("card_follow", CardFollow, "follow a link with the card", secrets={"pin"}, card_in_browser=True)
async def card_follow(stage: Stage, args: CardFollow) -> str:
    await stage.browser.card_follow(args.link, stage.card_certificate(args.persona), args.pin)
    return f"link {args.link!r} with the card" + _failure(stage)
