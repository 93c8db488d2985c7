"""pytest fixtures for testing your own tools against cps-harness (registered as ``pytest11``).

    def test_my_pcsc_tool(cps_card):            # a virtual CPS card in a private reader
        out = subprocess.run(["my-tool"], env=cps_card.env, ...)

    def test_my_relying_party(cps_world, psc, phone, directory):
        national_id = directory.add_professional(first_name="ALAIN", last_name="D0000020981", profession="10",
                                                 rpps="99700209812")
        directory.activate_ecps(national_id, "4321")
        psc.register_client("my-app", "s3cret", ["http://127.0.0.1:8080/callback"])
        ...                                      # log in through psc.discovery_url; phone.approve("4321")

Every fixture starts what it needs and stops it afterwards; under pytest-xdist each worker gets
its own private pcscd, socket and ports. Nothing touches the system's pcscd.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.card.host import CardHost
from harness.card.profile import load_profile, make_card
from harness.pki import Pki
from harness.scenario.loader import find, load
from harness.scenario.player import Result, play
from harness.world.host import WorldHost
from simulators.card.cpx import CpxCard
from simulators.card.faults import Faults
from simulators.card.view import CardView


@dataclass
class PkiPaths:
    """What a client needs to trust the simulated sites and to check card certificates."""

    pki: Pki
    ca_bundle: Path
    """The TLS CA of every simulated site (PEM)."""
    igc_chain: Path
    """TEST AC IGC-SANTE FORT PERSONNES then TEST AC RACINE IGC-SANTE FORT (PEM)."""


class VirtualCard:
    """A virtual CPS card in reader 0 of a private PC/SC stack."""

    def __init__(self, host: CardHost, pki: Pki, profile: str) -> None:
        self.host = host
        self.pki = pki
        self.card: CpxCard | None = None
        self.insert(profile)

    @property
    def env(self) -> dict[str, str]:
        """Environment for your process: PCSCLITE_CSOCK_NAME (and PKCS11_MODULE_PATH for OpenSC)."""
        return self.host.client_env()

    def insert(self, profile: str = "pharmacist") -> CpxCard:
        if self.card is not None and self.host.reader(0).present:
            self.host.remove()
        self.card, credentials = make_card(load_profile(profile), self.pki)
        self.host.insert(self.card, certificates=credentials.variants)
        return self.card

    def remove(self) -> None:
        self.host.remove()

    def reset(self) -> None:
        self.host.reset()

    @property
    def faults(self) -> Faults:
        assert self.card is not None
        return self.card.faults

    @property
    def view(self) -> CardView:
        """What may be read of the card: its codes' counters and its APDU log."""
        assert self.card is not None
        return CardView(self.card)

    @property
    def pin_tries(self) -> int:
        return self.view.pin.tries_left

    @property
    def puk_tries(self) -> int:
        return self.view.puk.tries_left

    def log(self) -> list[str]:
        """The decoded APDU log (codes masked)."""
        return self.view.lines() if self.card else []


@pytest.fixture(scope="session")
def cps_pki(tmp_path_factory: pytest.TempPathFactory) -> PkiPaths:
    from cryptography.hazmat.primitives import serialization

    pki = Pki()  # keys cached under ~/.cache/cps-harness: fast after the first run
    folder = tmp_path_factory.mktemp("cps-pki")
    bundle = pki.server.write_ca_bundle(folder)
    chain = folder / "igc-chain.pem"
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in pki.cards.chain))
    return PkiPaths(pki, bundle, chain)


@pytest.fixture
def cps_card(cps_pki: PkiPaths, request: pytest.FixtureRequest) -> Iterator[VirtualCard]:
    """A pharmacist's card by default; ``@pytest.mark.cps_card(profile="doctor")`` picks another."""
    marker = request.node.get_closest_marker("cps_card")
    profile = marker.kwargs.get("profile", "pharmacist") if marker else "pharmacist"
    with CardHost() as host:
        yield VirtualCard(host, cps_pki.pki, profile)


@pytest.fixture
def cps_world(cps_pki: PkiPaths) -> Iterator[WorldHost]:
    """A running world (every site, a private pcscd with two readers), fresh for each test; its clock starts at
    real time and runs (relying parties judge tokens on their own clock), and `clock.advance_clock` moves it on."""
    with WorldHost(pki=cps_pki.pki) as host:
        yield host


@pytest.fixture
def psc(cps_world: WorldHost) -> WorldHost:
    """Pro Santé Connect of ``cps_world``: ``register_client``, ``discovery_url``, ``issuer``, ``psc_faults``."""
    return cps_world


@pytest.fixture
def phone(cps_world: WorldHost) -> WorldHost:
    """The virtual phone of ``cps_world``: ``pending_pushes``, ``approve(password)``, ``refuse()``."""
    return cps_world


@pytest.fixture
def directory(cps_world: WorldHost) -> WorldHost:
    """The directory of ``cps_world``: ``add_professional(...)``, ``activate_ecps(national_id)``."""
    return cps_world


@pytest.fixture
def clock(cps_world: WorldHost) -> WorldHost:
    """The clock of ``cps_world``: ``advance_clock("+48h")``."""
    return cps_world


@pytest.fixture
def cps_scenario(cps_pki: PkiPaths, tmp_path: Path) -> Any:
    """Run one catalogue scenario (``cps_scenario("G2-01")``) inside your test; returns its Result."""

    def run(scenario_id: str) -> Result:
        loaded, problems = load(find([scenario_id]))
        if problems:
            raise ValueError("\n".join(problems))
        path, scenario = loaded[0]
        return asyncio.run(play(scenario, path, cps_pki.pki, tmp_path))

    return run


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cps_card(profile): the card profile the cps_card fixture inserts")
