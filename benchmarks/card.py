"""Card benchmark: how fast the virtual CPS card answers, alone and through a real pcscd.

Run from the project root::

    .venv/bin/python -m benchmarks.card [--n 2000] [--reps 3] [--n-local 20000] [--json PATH] [--skip-pkcs11]

It needs the system packages of ``./bootstrap.sh`` (pcscd, the vpcd driver, OpenSC). It
prints one table and writes the same numbers, with the raw per-repetition medians, as JSON to
``PATH`` (default ``benchmarks/results/card.json``; that folder ignores itself in git).

What each row compares:

1. **In-process** ``card.process(apdu)``: our sans-IO card (the ``pharmacist`` profile) against
   a bare echo card, no socket at all. Median and p99 per APDU, and APDUs per second. This is
   the Python cost of the card itself.
2. **Round trip through pcscd**: one private stack, our card in reader 0 and the echo card in
   reader 1, both inserted at once; a PC/SC client in a child process (libpcsclite reads
   ``PCSCLITE_CSOCK_NAME`` once per process) times ``SCardTransmit`` with
   ``time.perf_counter_ns``. Both cards get the very same command bytes: 50 warm-up APDUs
   each, then ``--n`` timed each, sent one to each card in turn (A B B A…) so that the
   machine's drift hits both alike (timed in blocks of 2000 instead, the echo card against
   itself came out 4-18 % apart; interleaved, within 1 %), ``--reps`` times. Two commands:

   - ``VERIFY`` status ``00 20 00 01 00`` (5 bytes in, 2 out for both: our card says 63C3);
   - ``SELECT`` by path without FCI ``00 A4 09 0C 04 3F00 2F01`` (4 data bytes; our card says
     9000, the echo card sends the 4 bytes back with 9000).

   The ratio ours/echo (medians) is the overhead our card adds to a round trip; the target is
   ≤ 1.2 (PASS/MISS is printed, the exit code stays 0: this is a benchmark, not a test). The
   note gives each card's own ``process()`` time measured in situ (on the card host's event
   loop, between pcscd's calls), which is most of the difference and more than row 1's
   figure: caches are cold once pcscd and the client have run in between.
3. **pkcs11-tool --login --pin 1234 --test** through OpenSC's PKCS#11 module against our card,
   wall time, median of ``--reps`` runs, each with a freshly built card (PIN tries intact).
   The echo card is removed first so OpenSC sees only our card.

Everything has a timeout, and the stack and cards are torn down on any exit, Ctrl-C included.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks.common import Row, Target, timed
from harness.card.host import CardHost
from harness.card.profile import load_profile, make_card
from harness.middleware import OPENSC_MODULE
from harness.pki import Pki
from simulators.card.cpx import ATR as CPS_ATR
from simulators.card.faults import Faults

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "card.json"
PROFILE = "pharmacist"
PIN = "1234"
WARMUP = 50
TARGET_RATIO = 1.2
PKCS11_TIMEOUT = 180.0

OURS_READER, ECHO_READER = 0, 1


@dataclass(frozen=True)
class Case:
    """One command sent, byte for byte, to both cards, and what each should answer."""

    name: str
    apdu: bytes
    ours_answer: bytes
    echo_answer: bytes


CASES = (
    Case("VERIFY status", bytes.fromhex("0020000100"), bytes.fromhex("63C3"), bytes.fromhex("9000")),
    Case(
        "SELECT 3F00/2F01, no FCI",
        bytes.fromhex("00A4090C043F002F01"),
        bytes.fromhex("9000"),
        bytes.fromhex("3F002F019000"),
    ),
)


class EchoCard:
    """The cheapest card the transport can carry: sends the command's data back with 9000."""

    def __init__(self) -> None:
        self.faults = Faults()

    def power_on(self) -> bytes:
        return CPS_ATR

    def process(self, apdu: bytes) -> bytes:
        lc = apdu[4] if len(apdu) > 5 else 0
        return apdu[5 : 5 + lc] + b"\x90\x00"


# -- statistics ----------------------------------------------------------------------------------
@dataclass
class Stats:
    """Timings of one card for one command, in microseconds."""

    n: int
    median_us: float
    p99_us: float
    mean_us: float
    rep_medians_us: list[float] = field(default_factory=list)
    per_second: float | None = None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of already sorted values."""
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def stats_ns(reps: Sequence[Sequence[int]]) -> Stats:
    pooled = sorted(v for rep in reps for v in rep)
    return Stats(
        n=len(pooled),
        median_us=statistics.median(pooled) / 1000,
        p99_us=percentile(pooled, 99) / 1000,
        mean_us=statistics.fmean(pooled) / 1000,
        rep_medians_us=[round(statistics.median(rep) / 1000, 3) for rep in reps],
    )


# -- 1. in-process ---------------------------------------------------------------------------------
def time_in_process(process: Callable[[bytes], bytes], apdu: bytes, n: int, reps: int) -> Stats:
    clock = time.perf_counter_ns
    for _ in range(WARMUP):
        process(apdu)
    samples: list[list[int]] = []
    elapsed = 0
    for _ in range(reps):
        rep: list[int] = []
        start = clock()
        for _ in range(n):
            t0 = clock()
            process(apdu)
            rep.append(clock() - t0)
        elapsed += clock() - start
        samples.append(rep)
    stats = stats_ns(samples)
    stats.per_second = n * reps / (elapsed / 1e9)
    return stats


# -- 2. round trips through pcscd (child process) ------------------------------------------------
class TimedCard:
    """Wraps a card in the reader and times its ``process()`` where it really runs: on the card
    host's event loop, between pcscd's calls. Both cards are wrapped, so the cost is the same."""

    def __init__(self, card: Any) -> None:
        self.card = card
        self.faults: Faults = card.faults
        self.samples: dict[bytes, list[int]] = {}
        self.busy_ns = 0
        """Total time spent in the card's own ``process()``: what the card costs in a longer exchange."""

    @property
    def log(self) -> Any:
        return self.card.log

    def power_on(self) -> bytes:
        answer: bytes = self.card.power_on()
        return answer

    def process(self, apdu: bytes) -> bytes:
        t0 = time.perf_counter_ns()
        answer: bytes = self.card.process(apdu)
        spent = time.perf_counter_ns() - t0
        self.samples.setdefault(apdu, []).append(spent)
        self.busy_ns += spent
        return answer


CLIENT_CODE = r"""
import gc, json, sys, time
from smartcard import scard

cfg = json.loads(sys.argv[1])

def check(rc, what):
    if rc != scard.SCARD_S_SUCCESS:
        raise SystemExit(f"{what}: {scard.SCardGetErrorMessage(rc)} ({rc & 0xFFFFFFFF:#x})")

rc, ctx = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
check(rc, "SCardEstablishContext")
cards = {}
for key, reader in cfg["readers"].items():
    rc, handle, proto = scard.SCardConnect(
        ctx, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
    )
    check(rc, f"SCardConnect {reader}")
    cards[key] = (handle, proto)

clock, transmit = time.perf_counter_ns, scard.SCardTransmit
out = {"protocols": {k: ("T=0" if p == scard.SCARD_PROTOCOL_T0 else "T=1") for k, (_, p) in cards.items()}, "cases": {}}
forward = list(cards)
backward = forward[::-1]
gc.disable()
for case in cfg["cases"]:
    apdu = list(bytes.fromhex(case["apdu"]))
    timings = {key: [] for key in cards}
    for rep in range(cfg["reps"]):
        for key, (handle, proto) in cards.items():
            expected = list(bytes.fromhex(case["expect"][key]))
            for _ in range(cfg["warmup"]):
                rc, answer = transmit(handle, proto, apdu)
                check(rc, "SCardTransmit")
            if answer != expected:
                raise SystemExit(f"{key}: {case['apdu']} answered {bytes(answer).hex()}, not {case['expect'][key]}")
        samples = {key: [] for key in cards}
        # one APDU to each card in turn, in A B B A order: drift and noise hit both alike
        for i in range(cfg["n"]):
            for key in (forward if i % 2 == 0 else backward):
                handle, proto = cards[key]
                t0 = clock()
                rc, answer = transmit(handle, proto, apdu)
                samples[key].append(clock() - t0)
                if rc != scard.SCARD_S_SUCCESS:
                    check(rc, "SCardTransmit")
        for key in cards:
            timings[key].append(samples[key])
    out["cases"][case["name"]] = timings
gc.enable()
for handle, _ in cards.values():
    scard.SCardDisconnect(handle, scard.SCARD_LEAVE_CARD)
scard.SCardReleaseContext(ctx)
json.dump(out, sys.stdout)
"""


@dataclass
class RoundTrip:
    """One command through pcscd: the client's view, and each card's own process() time meanwhile."""

    client: dict[str, Stats]
    in_situ: dict[str, Stats]

    @property
    def ratio(self) -> float:
        return self.client["ours"].median_us / self.client["echo"].median_us


def round_trips(host: CardHost, cards: dict[str, TimedCard], n: int, reps: int) -> tuple[dict[str, RoundTrip], Any]:
    config = {
        "readers": {"ours": host.reader(OURS_READER).name, "echo": host.reader(ECHO_READER).name},
        "n": n,
        "reps": reps,
        "warmup": WARMUP,
        "cases": [
            {"name": c.name, "apdu": c.apdu.hex(), "expect": {"ours": c.ours_answer.hex(), "echo": c.echo_answer.hex()}}
            for c in CASES
        ],
    }
    # a round trip is well under 1 ms; allow 5 ms each and a minute of slack
    timeout = 60 + 0.005 * (n + WARMUP) * reps * len(CASES) * 2
    done = subprocess.run(
        [sys.executable, "-c", CLIENT_CODE, json.dumps(config)],
        env=host.client_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the PC/SC client failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    raw = json.loads(done.stdout)
    results = {
        case.name: RoundTrip(
            client={card: stats_ns(samples) for card, samples in raw["cases"][case.name].items()},
            in_situ={key: stats_ns([card.samples.get(case.apdu, [0])]) for key, card in cards.items()},
        )
        for case in CASES
    }
    return results, raw["protocols"]


# -- 3. pkcs11-tool --test -------------------------------------------------------------------------
@dataclass
class ToolRuns:
    seconds: list[float] = field(default_factory=list)
    exit_codes: list[int] = field(default_factory=list)
    reported_errors: list[int | None] = field(default_factory=list)
    """pkcs11-tool's own "N errors" count: it exits 0 even when some of its tests fail."""
    apdus: list[int] = field(default_factory=list)
    get_responses: list[int] = field(default_factory=list)
    """How many of those APDUs were GET RESPONSE: T=0 turns every case-4 command into two round trips."""
    first_error: str = ""

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    def add(self, run: ToolRun) -> None:
        self.seconds.append(run.seconds)
        self.exit_codes.append(run.code)
        self.reported_errors.append(run.reported_errors)
        self.apdus.append(len(run.entries))
        self.get_responses.append(sum(1 for e in run.entries if len(e.command) > 1 and e.command[1] == 0xC0))
        if (run.code != 0 or run.reported_errors) and not self.first_error:
            self.first_error = run.first_error


def on_card(host: CardHost, card: Any, command: Sequence[str], timeout: float = PKCS11_TIMEOUT) -> ToolRun:
    """``command`` against ``card``, alone in reader 0 for the run: wall time, exit code, output, APDUs."""
    host.insert(card, reader=OURS_READER)
    before = len(card.log)  # pcscd's power-up exchanges, if any
    try:
        seconds, code, output = timed(command, host.client_env(), timeout)
    finally:
        host.remove(OURS_READER)
    return ToolRun(seconds, code, output, list(card.log)[before:])


@dataclass
class ToolRun:
    seconds: float
    code: int
    output: str
    entries: list[Any]

    @property
    def reported_errors(self) -> int | None:
        """pkcs11-tool's own "N errors" count of ``--test``, None if it did not get that far."""
        count = re.search(r"^(\d+|No) errors?$", self.output, re.MULTILINE)
        return None if count is None else 0 if count[1] == "No" else int(count[1])

    @property
    def first_error(self) -> str:
        errors = [
            " ".join(line.split()) for line in self.output.splitlines() if "ERR" in line or "error" in line.lower()
        ]
        return errors[0] if errors else f"exit {self.code}"


def pkcs11_test(host: CardHost, pki: Pki, runs: int) -> ToolRuns:
    command = ["pkcs11-tool", "--module", OPENSC_MODULE, "--login", "--pin", PIN, "--test"]
    result = ToolRuns()
    profile = load_profile(PROFILE)
    for _ in range(runs):
        card, _ = make_card(profile, pki)  # a fresh card every run: PIN tries intact, nothing verified
        result.add(on_card(host, card, command))
    return result


# -- output -----------------------------------------------------------------------------------------
def verdict(ratio: float) -> str:
    return "[green]PASS[/]" if ratio <= TARGET_RATIO else "[red]MISS[/]"


def fmt_us(value: float) -> str:
    return f"{value:,.1f} µs" if value < 10_000 else f"{value / 1000:,.1f} ms"


def build_table(
    local: dict[str, dict[str, Stats]], remote: dict[str, RoundTrip], tool: ToolRuns | None, n: int, reps: int
) -> Table:
    table = Table(
        title=f"Virtual CPS card (ours) vs bare echo card, same stack; N={n} × {reps} reps through pcscd",
        title_justify="left",
        caption="1: card.process() alone, no I/O.  2: SCardTransmit round trip, ours in reader 0, echo in reader 1.  "
        "3: wall time of OpenSC's PKCS#11 self-test against our card.",
        caption_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("measure")
    for name in ("ours median", "ours p99", "echo median", "echo p99", "ours/echo"):
        table.add_column(name, justify="right")
    table.add_column("note")
    for name, by_card in local.items():
        ours, echo = by_card["ours"], by_card["echo"]
        table.add_row(
            "1",
            f"in-process {name}",
            fmt_us(ours.median_us),
            fmt_us(ours.p99_us),
            fmt_us(echo.median_us),
            fmt_us(echo.p99_us),
            f"{ours.median_us / echo.median_us:.0f}×",
            f"{ours.per_second or 0:,.0f} vs {echo.per_second or 0:,.0f} APDU/s",
        )
    table.add_section()
    for case in CASES:
        trip = remote[case.name]
        ours, echo = trip.client["ours"], trip.client["echo"]
        table.add_row(
            "2",
            f"pcscd RTT {case.name} ({len(case.apdu)}→{len(case.ours_answer)}/{len(case.echo_answer)} B)",
            fmt_us(ours.median_us),
            fmt_us(ours.p99_us),
            fmt_us(echo.median_us),
            fmt_us(echo.p99_us),
            f"{trip.ratio:.2f}",
            f"{verdict(trip.ratio)} (≤ {TARGET_RATIO}); +{ours.median_us - echo.median_us:.0f} µs, of which "
            f"process() {trip.in_situ['ours'].median_us:.0f} vs {trip.in_situ['echo'].median_us:.1f} µs",
        )
    table.add_section()
    if tool is None:
        table.add_row("3", "pkcs11-tool --login --test", "-", "-", "-", "-", "-", "skipped")
    else:
        failed = [c for c in tool.exit_codes if c != 0]
        reported = max((e or 0 for e in tool.reported_errors), default=0)
        status = f"[red]exit {failed[0]}[/]" if failed else "exit 0"
        if reported:
            status += f", [yellow]{reported} test error(s)[/]: {tool.first_error}"
        apdus, get_responses = statistics.median(tool.apdus), statistics.median(tool.get_responses)
        note = f"{apdus:.0f} APDUs/run ({get_responses:.0f} GET RESPONSE); {status}"
        table.add_row(
            "3",
            "pkcs11-tool --login --test (wall)",
            f"{tool.median_s * 1000:,.0f} ms",
            f"max {max(tool.seconds) * 1000:,.0f} ms",
            "-",
            "-",
            "-",
            note,
        )
    return table


def write_json(path: Path, payload: dict[str, Any]) -> None:
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True)
        if path == DEFAULT_JSON:
            (folder / ".gitignore").write_text("# benchmark output: never committed\n*\n")
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


# -- main -------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=2000, help="timed APDUs per repetition through pcscd (default 2000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions, and pkcs11-tool runs (default 3)")
    parser.add_argument("--n-local", type=int, default=20000, help="timed in-process calls per repetition")
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"where to write results (default {DEFAULT_JSON})"
    )
    parser.add_argument("--skip-pkcs11", action="store_true", help="leave out row 3 (pkcs11-tool)")
    args = parser.parse_args(argv)
    if args.n < 1 or args.reps < 1 or args.n_local < 1:
        parser.error("--n, --reps and --n-local must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)  # logs and pipes get the whole table
    try:
        return run(args, console)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: stack and cards torn down[/]")
        return 130


@dataclass
class CardResults:
    """Everything one card benchmark measured: rows 1, 2 and (unless skipped) 3."""

    local: dict[str, dict[str, Stats]]
    remote: dict[str, RoundTrip]
    protocols: dict[str, str]
    tool: ToolRuns | None
    config: dict[str, Any]


def measure(args: argparse.Namespace, log: Callable[[str], None]) -> CardResults:
    """Rows 1-3 (``args`` as ``parse_args`` makes them); ``log`` is told what is running."""
    pki = Pki()
    profile = load_profile(PROFILE)

    # 1. in-process, before any stack exists: nothing else runs in this process
    local: dict[str, dict[str, Stats]] = {}
    for case in CASES:
        ours_card, _ = make_card(profile, pki)
        local[case.name] = {
            "ours": time_in_process(ours_card.process, case.apdu, args.n_local, args.reps),
            "echo": time_in_process(EchoCard().process, case.apdu, args.n_local, args.reps),
        }

    # 2 and 3 on one stack; the context manager tears it down whatever happens
    tool: ToolRuns | None = None
    with CardHost() as host:
        cards = {"ours": TimedCard(make_card(profile, pki)[0]), "echo": TimedCard(EchoCard())}
        # CardHost.insert is annotated with CpxCard, but the transport takes any vpcd `Card`
        host.insert(cards["ours"], reader=OURS_READER)
        host.insert(cards["echo"], reader=ECHO_READER)
        log(f"stack up: {host.reader(0).name!r} (ours), {host.reader(1).name!r} (echo)")
        remote, protocols = round_trips(host, cards, args.n, args.reps)
        host.remove(ECHO_READER)  # OpenSC must see our card only
        host.remove(OURS_READER)
        if not args.skip_pkcs11:
            tool = pkcs11_test(host, pki, args.reps)
    config = {"n": args.n, "reps": args.reps, "n_local": args.n_local, "warmup": WARMUP, "profile": PROFILE}
    return CardResults(local, remote, protocols, tool, config)


def payload(results: CardResults) -> dict[str, Any]:
    """The JSON of a card run, with every repetition's medians."""
    remote = results.remote
    return {
        "benchmark": "card",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "config": results.config,
        "target_ratio": TARGET_RATIO,
        "in_process": {name: {card: asdict(s) for card, s in by.items()} for name, by in results.local.items()},
        "round_trip": {
            case.name: {
                "apdu": case.apdu.hex(),
                "client": {card: asdict(s) for card, s in remote[case.name].client.items()},
                "process_in_situ": {card: asdict(s) for card, s in remote[case.name].in_situ.items()},
                "ratio_median": remote[case.name].ratio,
                "pass": remote[case.name].ratio <= TARGET_RATIO,
            }
            for case in CASES
        },
        "protocols": results.protocols,
        "pkcs11_test": None
        if results.tool is None
        else {
            "median_s": results.tool.median_s,
            **asdict(results.tool),
            "command": "pkcs11-tool --login --pin 1234 --test",
        },
    }


def rows(results: CardResults) -> list[Row]:
    """The summary table's card rows: round trips through pcscd (target), then in-process rates."""
    out = []
    for case in CASES:
        trip = results.remote[case.name]
        ours, echo = trip.client["ours"], trip.client["echo"]
        out.append(
            Row(
                "card",
                f"APDU round trip through pcscd: {case.name}",
                "s",
                ours.median_us / 1e6,
                echo.median_us / 1e6,
                "echo card, same pcscd",
                Target("ratio_max", TARGET_RATIO, f"≤ {TARGET_RATIO}× echo"),
                f"{ours.n:,} APDUs each, interleaved; our card's own process() in situ: "
                f"{trip.in_situ['ours'].median_us:.0f} µs (echo {trip.in_situ['echo'].median_us:.1f} µs)",
                {
                    "ours_rep_medians_s": [v / 1e6 for v in ours.rep_medians_us],
                    "anchor_rep_medians_s": [v / 1e6 for v in echo.rep_medians_us],
                },
            )
        )
    for name, by_card in results.local.items():
        ours, echo = by_card["ours"], by_card["echo"]
        out.append(
            Row(
                "card",
                f"in-process APDUs per second: {name}",
                "APDU/s",
                ours.per_second,
                echo.per_second,
                "echo card",
                None,
                f"card.process() alone, no I/O: median {ours.median_us:.1f} µs vs {echo.median_us:.2f} µs",
            )
        )
    if results.tool is not None:
        tool = results.tool
        out.append(
            Row(
                "card",
                "pkcs11-tool --login --test, our card alone",
                "s",
                tool.median_s,
                note=f"{statistics.median(tool.apdus):.0f} APDUs a run",
                samples={"ours_s": tool.seconds},
            )
        )
    return out


def run(args: argparse.Namespace, console: Console) -> int:
    results = measure(args, lambda text: console.print(f"[dim]{text}[/]"))
    console.print(build_table(results.local, results.remote, results.tool, args.n, args.reps))
    write_json(args.json, payload(results))
    console.print(f"[dim]results written to {args.json}[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
