"""Property tests of the scenario loader (issue 19): whatever a file holds, ``load`` answers with
``file:line: …`` problems or scenarios, never an exception.

Two sources of files, driven by hypothesis:

1. Random YAML documents: mappings shaped like a scenario (its fields, the table's actions,
   ``expect`` and persona fields as keys, anything as values), dumped in block or flow style.
2. Random mutations of the catalogue's own files (``scenarios/``): lines deleted, duplicated,
   swapped, re-indented or cut, values replaced by other YAML, bytes flipped or inserted (so
   non-UTF-8 and control characters too), a key written twice, brackets opened and not closed.

The oracle: ``load`` returns; each problem starts with the file's path and a line inside the
file (``path:line: ``), on one line; a file is either loaded or has at least one problem.

Budget: 100 examples a property by default (a few seconds in CI); ``CPS_FUZZ_EXAMPLES`` sets
another one, for a long local run::

    CPS_FUZZ_EXAMPLES=5000 .venv/bin/python -m pytest tests/qualities/test_scenario_loader_properties.py \\
        -p no:xdist --timeout=0
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.scenario.actions import ACTIONS
from harness.scenario.expect import Expect
from harness.scenario.loader import SCENARIO_DIR, load
from harness.scenario.personas import Persona

EXAMPLES = int(os.environ.get("CPS_FUZZ_EXAMPLES") or 100)
PROFILE = settings(
    max_examples=EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)
CATALOGUE = {p.name: p.read_bytes() for p in sorted(SCENARIO_DIR.glob("*.yaml"))}
KEYS = sorted(
    {"id", "title", "guide", "variant_of", "personas", "world", "steps", "clock", "cards", "clock_frozen", "from"}
    | set(ACTIONS)
    | {"expect", "say", "not", "site", "path", "persona", "reader", "device", "to", "by", "channel", "save_as"}
    | set(Expect.model_fields)
    | set(Persona.model_fields)
)
"""Keys the loader means something by, so random documents get past the first check."""


def check(name: str, content: bytes) -> list[str]:
    """``load`` of one file holding ``content``: it returns, and each problem is located in the file."""
    with tempfile.TemporaryDirectory(prefix="cps-loader-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        loaded, problems = load([path])
    text = content.decode("utf-8", "replace")  # YAML also breaks lines at \r, NEL, U+2028 and U+2029
    lines = max(content.count(b"\n"), len(re.findall("\r\n|[\r\n\x85\u2028\u2029]", text))) + 1
    assert len(loaded) + len(problems) >= 1
    assert not (loaded and problems), problems
    for problem in problems:
        assert "\n" not in problem, problem  # one line each: a key or value with a line break is quoted
        match = re.match(rf"{re.escape(str(path))}:(\d+): \S", problem)
        assert match is not None, problem
        assert 1 <= int(match.group(1)) <= lines, (problem, lines)
    return problems


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["G2-04", "+48h", "99999999999h", "wallet", "alain", "{carole.national_id}", "200", "0"]),
    st.sampled_from(KEYS),
    st.datetimes(timezones=st.none() | st.timezones()),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers(-3, 3))
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30,
)
scenario_like = st.fixed_dictionaries(
    {"id": st.sampled_from(["G2-08", "g2-08", "X"]) | st.text(max_size=6)},
    optional={
        "title": scalars,
        "guide": scalars,
        "variant_of": st.sampled_from(["G2-04", "G9-99"]) | scalars,
        "personas": st.dictionaries(st.sampled_from(["alain", "carole", "x"]), documents, max_size=2)
        | st.sampled_from([{"a": "medecin-alain"}, {"a": {"from": "../x"}}]),
        "world": st.dictionaries(st.sampled_from(["clock", "cards", "clock_frozen", "x"]), scalars, max_size=3),
        "steps": st.lists(
            st.dictionaries(st.sampled_from(sorted(ACTIONS)) | st.sampled_from(["expect", "say"]), documents),
            max_size=4,
        )
        | documents,
    },
)


@PROFILE
@given(document=st.one_of(documents, scenario_like), flow=st.booleans())
def test_any_yaml_document_gives_located_problems(document: Any, flow: bool) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, allow_unicode=True)
    check("G2-08-x.yaml", text.encode())


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


MUTATIONS = (
    "delete",
    "duplicate",
    "swap",
    "indent",
    "dedent",
    "truncate",
    "replace-value",
    "byte",
    "insert",
    "open-bracket",
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A catalogue file with one to four mutations."""
    name = draw(st.sampled_from(sorted(CATALOGUE)))
    data = CATALOGUE[name]
    for _ in range(draw(st.integers(1, 4))):
        lines = _lines(data)
        kind = draw(st.sampled_from(MUTATIONS))
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        if kind == "delete":
            del lines[at]
        elif kind == "duplicate":
            lines.insert(at, lines[at])
        elif kind == "swap":
            other = draw(st.integers(0, max(0, len(lines) - 1)))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == "indent":
            lines[at] = b" " * draw(st.integers(1, 6)) + lines[at]
        elif kind == "dedent":
            lines[at] = lines[at].lstrip()
        elif kind == "truncate":
            lines[at] = lines[at][: draw(st.integers(0, len(lines[at])))]
        elif kind == "replace-value":
            key, colon, _ = lines[at].partition(b":")
            value = yaml.safe_dump(draw(documents), default_flow_style=True, allow_unicode=True).strip()
            lines[at] = key + (colon or b":") + b" " + value.encode()
        elif kind == "byte":
            blob = bytearray(b"\n".join(lines))
            spot = draw(st.integers(0, max(0, len(blob) - 1)))
            blob[spot:spot] = draw(st.binary(min_size=1, max_size=3))
            data = bytes(blob)
            continue
        elif kind == "insert":
            lines.insert(at, draw(st.text(max_size=30)).encode("utf-8", "surrogatepass"))
        elif kind == "open-bracket":
            lines[at] = lines[at] + draw(st.sampled_from([b" [", b" {", b" '", b' "', b" &a", b" *a", b" !!int x"]))
        data = b"\n".join(lines)
    return name, data


@PROFILE
@given(case=mutated())
def test_mutated_catalogue_files_give_located_problems(case: tuple[str, bytes]) -> None:
    name, data = case
    check(name, data)


def test_the_oracle_sees_a_problem_in_every_broken_kind() -> None:
    """The oracle is not vacuous: the catalogue's files load, and each kind of break gives a problem."""
    for name, data in list(CATALOGUE.items())[:3]:
        assert check(name, data) == []
        assert check(name, data + data) != []  # every key twice
        assert check(name, data.replace(b"steps:", b"steps: [")) != []
        assert check(name, b"\xff" + data) != []
