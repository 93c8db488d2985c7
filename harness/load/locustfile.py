"""The locustfile ``cps-harness load`` runs: each Locust user is a professional logging into the
relying party under test (Locust's ``--host``) through the simulated Pro Santé Connect.

One task, one login, as a browser and a phone play it: GET the relying party's login path, which
redirects to PSC's authorization page; choose e-CPS with the professional's national id (303 to the
waiting page); the phone, after the think time, reads its pending push and approves it with the
e-CPS password, refuses it, or leaves it unanswered (shares ``CPS_LOAD_REFUSE`` and
``CPS_LOAD_IGNORE``); the browser reloads the waiting page, which sends it back to the relying
party's callback, with a code (approved) or ``error=access_denied`` (refused), and follows the
relying party's own redirects. Every request is in Locust's table under a numbered name, and each
whole login is one more row, ``login approved`` / ``login refused`` / ``login ignored``
(request type ``LOGIN``), so the CSV counts completed logins.

A login counts as failed when it does not end as it must: approved → the last answer comes from
the relying party (not PSC) with a 2xx status and no ``error=`` on the way; refused → the
relying party's callback got ``error=access_denied``; ignored → PSC still shows the waiting page.

The world is described by the JSON line ``cps-harness serve --json`` prints, in the file named by
``CPS_LOAD_WORLD``: its sites' host names are resolved to their loopback address in this process
(as ``host_resolver_rules`` says) and its TLS CA is trusted. Run it through ``cps-harness load``,
which sets the variables; it is a plain locustfile, so Locust's own options all apply.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import socket
import time
from typing import Any
from urllib.parse import urlparse

import requests
from locust import HttpUser, constant, events, task
from locust.env import Environment

from harness.load.directory import PASSWORD, professional, serial_for
from harness.load.phone import answer_for

HTTP_TIMEOUT = 30.0
"""Seconds for one request: a loaded world answers slowly, but never never."""
ACTION = re.compile(r'action="(/auth/[^"]+/ecps)"')
WAITING = 'data-screen="attente-telephone"'


def _setting(name: str, default: str) -> str:
    return os.environ.get(f"CPS_LOAD_{name}", default)


def _world() -> dict[str, Any]:
    path = os.environ.get("CPS_LOAD_WORLD")
    if not path:
        raise SystemExit("CPS_LOAD_WORLD is not set: run this locustfile through `cps-harness load`")
    with open(path, encoding="utf-8") as file:
        world: dict[str, Any] = json.load(file)
    return world


WORLD = _world()
THINK = float(_setting("THINK", "1"))
REFUSE = float(_setting("REFUSE", "0"))
IGNORE = float(_setting("IGNORE", "0"))
LOGIN_PATH = _setting("LOGIN_PATH", "/login")
ADMIN: str = WORLD["admin"]
WALLET: str = WORLD["sites"]["wallet"]
NAMES = dict(re.findall(r"MAP ([^\s,]+) ([^\s,]+)", WORLD.get("host_resolver_rules") or ""))
"""The world's host names → their loopback address (``MAP host address`` rules)."""

_getaddrinfo = socket.getaddrinfo


def _resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
    """The world's host names as ``--host-resolver-rules`` maps them, every other name as before."""
    name = host.decode() if isinstance(host, bytes) else host
    return _getaddrinfo(NAMES.get(name, host), *args, **kwargs)


socket.getaddrinfo = _resolve  # after gevent's patching (locust imports it first): requests looks it up per call
_numbers = itertools.count()


def _worker_index(environment: Environment) -> int:
    return int(getattr(environment.runner, "worker_index", 0) or 0)


class Professional(HttpUser):
    """A professional who logs in again and again, with no pause but the phone's think time."""

    wait_time = constant(0)

    def on_start(self) -> None:
        self.client.verify = WORLD["ca_bundle"]
        self.me = professional(serial_for(_worker_index(self.environment), next(_numbers)))
        self.logins = self.me.serial  # users start at different points of the answers' cycle
        # the directory record and the e-CPS on this professional's own phone (not timed: set-up)
        with requests.Session() as admin:
            for path, body in (("/admin/directory", self.me.record), ("/admin/ecps", self.me.ecps())):
                reply = admin.post(ADMIN + path, json=body, timeout=HTTP_TIMEOUT)
                if reply.status_code != 201:
                    raise RuntimeError(f"POST {path} answered {reply.status_code}: {reply.text[:200]}")

    def _phone_answer(self) -> str:
        """This login's answer, from ``answer_for`` over the user's logins counted from its serial: the
        shares are exact over any run of logins, and the first logins of many users already hold them."""
        self.logins += 1
        return answer_for(self.logins - 1, REFUSE, IGNORE)

    @task
    def login(self) -> None:
        started, answer = time.perf_counter(), self._phone_answer()
        self.client.cookies.clear()
        outcome = self._login(answer)
        events.request.fire(  # type: ignore[no-untyped-call]
            request_type="LOGIN", name=f"login {answer}", response_time=(time.perf_counter() - started) * 1000,
            response_length=0, exception=None if outcome is None else AssertionError(outcome), context={},
        )  # fmt: skip

    def _login(self, answer: str) -> str | None:
        """One login; None if it ended as ``answer`` means, else what went wrong."""
        timeout = HTTP_TIMEOUT
        with self.client.get(LOGIN_PATH, name="1 RP login → PSC authorization page", timeout=timeout,
                             catch_response=True) as reply:  # fmt: skip
            action = ACTION.search(reply.text)
            if reply.status_code != 200 or action is None:
                reply.failure(f"no e-CPS choice on {reply.url} ({reply.status_code})")
                return "the relying party did not lead to PSC's e-CPS choice"
        with self.client.post(WALLET + action.group(1), data={"identifiant": self.me.national_id}, timeout=timeout,
                              name="2 PSC e-CPS national id → waiting page", catch_response=True) as reply:  # fmt: skip
            waiting = reply.url
            if reply.status_code != 200 or WAITING not in reply.text:
                reply.failure(f"no waiting page ({reply.status_code})")
                return "PSC did not show the waiting page"
        time.sleep(THINK)  # gevent's sleep: the professional reads the phone
        if answer != "ignored":
            failed = self._phone(answer)
            if failed:
                return failed
        with self.client.get(waiting, name=f"3 PSC waiting page → RP ({answer})", timeout=timeout,
                             catch_response=True) as reply:  # fmt: skip
            return self._judge(reply, answer)

    def _phone(self, answer: str) -> str | None:
        """The phone: its newest pending push, approved with the password or refused."""
        device = self.me.device
        with self.client.get(f"{ADMIN}/admin/phones/{device}/pushes", name="phone: pending pushes",
                             timeout=HTTP_TIMEOUT, catch_response=True) as reply:  # fmt: skip
            pushes = reply.json() if reply.status_code == 200 else []
            if not pushes:
                reply.failure(f"no pending push ({reply.status_code})")
                return "the phone received no push"
        verb, body = ("approve", {"password": PASSWORD}) if answer == "approved" else ("refuse", {})
        with self.client.post(f"{ADMIN}/admin/pushes/{pushes[-1]['id']}/{verb}", json=body, name=f"phone: {verb}",
                              timeout=HTTP_TIMEOUT, catch_response=True) as reply:  # fmt: skip
            if reply.status_code != 200:
                reply.failure(f"{verb} answered {reply.status_code}")
                return f"the phone could not {verb}"
        return None

    def _judge(self, reply: Any, answer: str) -> str | None:
        hops = [r.headers.get("Location", "") for r in reply.history]
        target = urlparse(self.host or "")
        at_target = urlparse(reply.url)[:2] == target[:2]
        if answer == "ignored":
            ok = reply.status_code == 200 and WAITING in reply.text
            why = "PSC no longer showed the waiting page"
        elif answer == "refused":
            ok = any("error=access_denied" in hop for hop in hops)
            why = "the relying party's callback got no error=access_denied"
        else:
            ok = at_target and 200 <= reply.status_code < 300 and not any("error=" in hop for hop in hops)
            why = f"the login ended on {reply.url} with {reply.status_code}"
        if ok:
            reply.success()  # a refusal's 401 from the relying party is the expected page
            return None
        reply.failure(why)
        return why
