"""The command line on wrong input (issue 19): ✘ with ``file:line: field: why`` and exit code 2, never
a traceback, and nothing started before the input is known to be usable."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.card.profile import load_profile
from harness.cli.main import main
from tests.support.paths import REPO

PHARMACIST = (REPO / "harness/card/profiles/pharmacist.yaml").read_text(encoding="utf-8")


def edited(old: str, new: str) -> bytes:
    assert old in PHARMACIST
    return PHARMACIST.replace(old, new, 1).encode()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"holder: [\n", ":2: not valid YAML"),
        (edited('pin: {value: "1234"}', 'pin: {value: "12a4"}'), ":15: pin: Value error, codes are digits"),
        (edited('pin: {value: "1234"}', 'pin: {value: "1234", tries_left: 7}'), ":15: pin: Value error, tries_left"),
        (edited('serial: "0000075122"', 'serial: "XYZ"'), ":19: serial: String should match pattern"),
        (edited("certificates: valid ", "certificates: lost "), ":17: certificates: Value error, 'lost' is not"),
        (edited("first_name: CAROLE", 'first_name: ""'), ":4: holder.first_name: String should have at least"),
        (edited("first_name: CAROLE", "first_name: C\xe9LINE").replace("\xe9".encode(), b"\xe9"),
         ":4: not UTF-8 text: byte 0xe9"),
        (PHARMACIST.encode() + b'pin: {value: "0000"}\n', ':20: pin: written twice (first on line 15)'),
        (b"holder: " + b"[" * 5000 + b"]" * 5000 + b"\n", ":1: nested deeper than"),
    ],
)  # fmt: skip
def test_card_run_prints_every_profile_error_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, says: str
) -> None:
    """``card run --profile`` printed a traceback (exit code 1) for every one of these; a duplicate
    ``pin:`` silently gave the card PIN 0000."""
    profile = tmp_path / "profile.yaml"
    profile.write_bytes(content)
    assert main(["card", "run", "--profile", str(profile), "--", "true"]) == 2
    out = capsys.readouterr()
    assert out.out.startswith(f"✘ {profile}{says}"), out.out
    assert "Traceback" not in out.out + out.err


@pytest.mark.parametrize(
    ("profile", "says"),
    [
        ("astronaut", "✘ no card profile 'astronaut': a built-in name (doctor, nurse, pharmacist) or a YAML"),
        ("pharmacst", "✘ no card profile 'pharmacst': did you mean 'pharmacist'? a built-in name"),
        ("absent.yaml", "✘ no card profile 'absent.yaml'"),
    ],
)
def test_card_run_names_the_built_in_profiles_for_an_unknown_name(
    capsys: pytest.CaptureFixture[str], profile: str, says: str
) -> None:
    assert main(["card", "run", "--profile", profile, "--", "true"]) == 2
    assert capsys.readouterr().out.startswith(says)


def test_a_folder_is_no_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["card", "run", "--profile", str(tmp_path), "--", "true"]) == 2
    assert capsys.readouterr().out == f"✘ {tmp_path}:1: is a folder, not a card profile file\n"


def test_card_serve_refuses_a_wrong_profile_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "profile.yaml"
    profile.write_bytes(edited('pin: {value: "1234"}', 'pin: {value: "12"}'))
    control = tmp_path / "control.sock"
    assert main(["card", "serve", "--profile", str(profile), "--control", str(control)]) == 2
    assert capsys.readouterr().out.startswith(f"✘ {profile}:15: pin: ")
    assert not control.exists()


def test_profile_names_match_whatever_their_case() -> None:
    assert load_profile("Nurse") == load_profile("nurse")


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("NOPE-99", "✘ no scenario file or id 'NOPE-99' in "),
        ("G2-4", "did you mean G2-04"),
        ("/nonexistent", "✘ no scenario file or folder '/nonexistent'"),
    ],
)
@pytest.mark.parametrize("command", ["run", "check"])
def test_an_unknown_target_is_one_line_and_exit_code_2(
    capsys: pytest.CaptureFixture[str], command: str, target: str, says: str
) -> None:
    assert main([command, target]) == 2
    out = capsys.readouterr().out
    assert says in out and len(out.splitlines()) == 1, out


def test_check_takes_ids_in_any_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "g2-04"]) == 0
    assert capsys.readouterr().out == "1 scenario files valid, 0 problems\n"


def test_check_schema_to_an_unwritable_path_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder cannot be written as a file, even by root (permissions would not stop root)."""
    assert main(["check", "--schema", str(tmp_path), "G2-04"]) == 2
    assert capsys.readouterr().out == f"✘ --schema: cannot write {tmp_path}: Is a directory\n"
    missing = tmp_path / "absent" / "schema.json"
    assert main(["check", "--schema", str(missing), "G2-04"]) == 2
    assert capsys.readouterr().out == f"✘ --schema: cannot write {missing}: No such file or directory\n"


def test_check_of_a_folder_prints_every_files_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "G2-01-a.yaml").write_bytes(b"id: G2-01\ntitle: caf\xe9\n")
    (tmp_path / "G2-02-b.yaml").write_text("id: G2-02\ntitle: t\nguide: g\nsteps:\n  - clock.advance: 1h\n")
    (tmp_path / "G2-03-c.yaml").write_text("id: G2-03\nid: G2-03\n")
    assert main(["check", str(tmp_path)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"✘ {tmp_path}/G2-01-a.yaml:2: not UTF-8 text: byte 0xe9 at column 11; save the file as UTF-8 (e.g. iconv "
        "-f latin1 -t utf-8)",
        f"✘ {tmp_path}/G2-03-c.yaml:2: id: written twice (first on line 1); YAML would keep only this one: merge them",
        "1 scenario files valid, 2 problems",
    ]
