"""The diagnosis shown three ways: a rich table (terminal), JSON (scripts), an HTML page (trainers).

The page is French, in the guide's words and the look of ATSAM's result screens: one line per
check with its verdict and advice, then "Test SSL" with the table of "Information sur votre
carte CPS" as the guide shows it. Self-contained (inline style), so it can be mailed or printed.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console, Group
from rich.table import Table

from harness.diagnose.checks import INFO
from harness.diagnose.diagnosis import Diagnosis
from simulators.web.page import STYLE, text
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
EXTRA_STYLE = (
    "main{max-width:960px}.skip{color:#666}.detail{color:#666;font-size:.85em;overflow-wrap:anywhere}"
    "td ul{margin:4px 0;padding-left:18px}"
)


def html(diagnosis: Diagnosis) -> str:
    """The whole page; every value goes through ``text()``."""
    rows = []
    for check in diagnosis.checks:
        mark, word, css = VERDICTS[check.status]
        advice = "".join(f"<li>{text(a)}</li>" for a in check.advice) if check.failed else ""
        rows.append(
            f'<tr data-check="{text(check.id)}" data-status="{text(check.status)}">'
            f"<th>{text(INFO[check.id].titre)}</th>"
            f'<td class="{css}">{mark} {word}</td>'
            f"<td>{text(check.message)}" + (f'<ul class="advice">{advice}</ul>' if advice else "")
            + f'<div class="detail">{text(check.detail)}</div></td></tr>'
        )  # fmt: skip
    failed = diagnosis.first_failure
    if failed is None:
        verdict = '<p class="ok" data-verdict="ok">Toutes les vérifications ont réussi.</p>'
    else:
        verdict = (
            f'<p class="error" data-verdict="{text(failed.id)}">Première vérification en échec : '
            f"{text(INFO[failed.id].titre)}. {text(failed.message)}</p>"
        )
    body = [
        verdict,
        "<table><tr><th>Vérification</th><th>Résultat</th><th>Commentaire</th></tr>" + "".join(rows) + "</table>",
        "<h2>Test SSL</h2>",
    ]
    testssl = diagnosis.check("testssl")
    if diagnosis.page:
        cells = []
        for label, name in PAGE_ROWS:
            if name is None:
                cells.append(f'<tr><th colspan="2">{text(label)}</th></tr>')
            else:
                value = diagnosis.page.get(name, "")
                cells.append(f'<tr><th>{text(label)}</th><td data-field="{text(name)}">{text(value)}</td></tr>')
        body.append("<h3>Information sur votre carte CPS</h3><table>" + "".join(cells) + "</table>")
    else:
        body.append(f'<p class="{VERDICTS[testssl.status][2]}">{text(testssl.message)}</p>')
    if failed is not None:
        body.append(f"<p>{text(SUPPORT)}</p>")
    body.append(
        f'<p class="detail">{text(diagnosis.target)} — horloge {diagnosis.clock:%d/%m/%Y %H:%M} UTC — '
        f"{diagnosis.seconds:.2f} s</p>"
    )
    body += [f'<p class="detail">{text(note)}</p>' for note in diagnosis.notes]
    title = "Diagnostic de la carte CPS"
    return (
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}{EXTRA_STYLE}</style></head>"
        f'<body data-screen="diagnostic"><header>ATSAM — outil de diagnostic (simulé par cps-harness)</header>'
        f"<main><h1>{title}</h1>{''.join(body)}</main></body></html>"
    )


def write_html(diagnosis: Diagnosis, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html(diagnosis), encoding="utf-8")
    return path
