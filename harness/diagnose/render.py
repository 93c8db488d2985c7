"""The diagnosis shown three ways: a rich table (terminal), JSON (scripts), an HTML page (trainers).

The page is French, in the guide's words and the look of ATSAM's result screens: one line per
check with its verdict and advice, then "Test SSL" with the table of "Information sur votre
carte CPS" as the guide shows it (``templates/diagnostic.html``, the reports' stylesheet inlined):
one file, so it can be mailed or printed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console, Group
from rich.table import Table

from harness.diagnose.checks import INFO
from harness.diagnose.diagnosis import Diagnosis
from harness.reporting.redact import Redactor
from harness.reporting.render import render
from simulators.web.testssl.rules import SUPPORT

MARKS = {"ok": "[green]✔[/]", "fail": "[red]✘[/]", "skip": "[dim]–[/]"}
PAGE_ROWS = (
    ("IGC CPS", None),
    ("ORGANISATION", "organisation"),
    ("AUTORITE", "autorite"),
    ("CLASSE", "classe"),
    ("IDENTITE", None),
    ("Prénom", "prenom"),
    ("Nom", "nom"),
    ("Identifiant", "identifiant"),
    ("Ville", "ville"),
    ("Certificat d'AUTHENTIFICATION", None),
    ("N° de série", "serie"),
    ("Créé le :", "cree-le"),
    ("Expire le :", "expire-le"),
    ("Vérification", "verification"),
)
"""The guide's "Information sur votre carte CPS" table: section headings (None) and fields."""


# -- terminal ---------------------------------------------------------------------------------------------
def table(diagnosis: Diagnosis) -> Group:
    checks = Table(title="cps-harness diagnose", show_lines=False)
    checks.add_column("", no_wrap=True)
    checks.add_column("check", no_wrap=True, max_width=32)
    checks.add_column("result", ratio=1, overflow="fold")
    for check in diagnosis.checks:
        result = check.detail
        if check.failed:
            if check.fix:
                result += f"\n[bold]fix:[/] {check.fix}"
            if check.advice:
                result += "\n[bold]guide:[/] " + "\n  ".join(check.advice)
        checks.add_row(MARKS[check.status], f"{INFO[check.id].title}\n[dim]{check.id}[/]", result)
    parts: list[Table | str] = [f"[bold]{diagnosis.target}[/] — clock {diagnosis.clock:%Y-%m-%d %H:%M} UTC", checks]
    if diagnosis.page:
        identity = Table(title="Test SSL — Information sur votre carte CPS", show_header=False)
        identity.add_column(style="bold")
        identity.add_column()
        for label, name in PAGE_ROWS:
            if name is not None:
                identity.add_row(label, diagnosis.page.get(name, ""))
        parts.append(identity)
    parts += [f"[dim]{note}[/]" for note in diagnosis.notes]
    failed = diagnosis.first_failure
    verdict = "[green]all checks passed[/]" if failed is None else f"[red]first failure: {failed.id}[/]"
    parts.append(f"{diagnosis.summary().split(';')[0]} — {verdict} ({diagnosis.seconds:.2f} s)")
    return Group(*parts)


def print_table(diagnosis: Diagnosis, console: Console) -> None:
    console.print(table(diagnosis))


def to_json(diagnosis: Diagnosis) -> str:
    return json.dumps(diagnosis.as_json(), ensure_ascii=False)


# -- the trainer's page -----------------------------------------------------------------------------------
VERDICTS = {"ok": ("✔", "Réussi", "ok"), "fail": ("✘", "Échec", "error"), "skip": ("–", "Non vérifié", "skip")}


def html(diagnosis: Diagnosis, secrets: Iterable[str] = ()) -> str:
    """The whole page; every value is escaped by the template (Jinja2's autoescape) and ``secrets``
    (the PIN diagnose was given) masked wherever a tool's message would quote them."""
    return render(
        "harness.diagnose", "diagnostic.html", redact=Redactor(secrets).text, diagnosis=diagnosis,
        failed=diagnosis.first_failure, testssl=diagnosis.check("testssl"),
        titles={check_id: info.titre for check_id, info in INFO.items()},
        verdicts=VERDICTS, rows=PAGE_ROWS, support=SUPPORT, clock=f"{diagnosis.clock:%d/%m/%Y %H:%M}",
    )  # fmt: skip


def write_html(diagnosis: Diagnosis, path: Path, secrets: Iterable[str] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html(diagnosis, secrets), encoding="utf-8")
    return path
