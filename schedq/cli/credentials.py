"""``schedq credentials``: the operator registers calendar credentials (never a job payload).

A credential is bound to one doctor and one origin (scheme, host, port); links name it with
``secret_ref``. The secret is read from stdin or a hidden prompt, never from an argument (shell
history, ``ps``), and is encrypted at rest with ``SCHEDQ_ENCRYPTION_KEYS``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table

from schedq.cli.output import console, emit_json, err_console, show_error
from shared.errors import SchedqError

app = typer.Typer(help="Register calendar credentials (bound to a doctor and an origin).",
                  no_args_is_help=True)  # fmt: skip

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _read_secret() -> str:
    if sys.stdin.isatty():
        secret: str = typer.prompt("Secret", hide_input=True)
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        err_console.print("[bold red]no secret given[/] (stdin or prompt)")
        raise typer.Exit(2)
    return secret


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="Name links use as secret_ref, e.g. DR1_CALDAV.")],
    doctor: Annotated[str, typer.Option(help="The only doctor whose links may use it.")],
    url: Annotated[str, typer.Option(help="Any URL of the provider; its origin is bound.")],
    username: Annotated[
        str | None, typer.Option(help="User for Basic auth (omit for a token in the URL).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register or replace a credential; the secret comes from stdin or a hidden prompt."""
    from shared import calendar_credentials
    from shared.db.uow import UnitOfWork

    secret = _read_secret()
    try:
        with UnitOfWork() as uow:
            row = calendar_credentials.add(uow.session, name, doctor, url, username, secret)
            uow.commit()
    except ValueError as exc:
        err_console.print(f"[bold red]invalid credential[/]: {exc}")
        raise typer.Exit(2) from None
    except SchedqError as exc:
        show_error(exc, as_json)
        raise typer.Exit(2) from None
    shown = {"name": row.name, "doctor_id": row.doctor_id, "origin": row.origin}
    if as_json:
        emit_json(shown)
    else:
        console.print(f"credential {row.name} bound to doctor {row.doctor_id} at {row.origin}")


@app.command("list")
def list_(
    doctor: Annotated[str | None, typer.Option(help="Only this doctor's.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List credentials (names, doctors, origins; never a secret)."""
    from shared import calendar_credentials
    from shared.db.uow import UnitOfWork

    with UnitOfWork() as uow:
        rows = calendar_credentials.listing(uow.session, doctor)
    if as_json:
        fields = ("name", "doctor_id", "origin", "username", "updated_at")
        emit_json([{f: getattr(r, f) for f in fields} for r in rows])
        return
    table = Table("name", "doctor", "origin", "username", "updated")
    for r in rows:
        table.add_row(r.name, r.doctor_id, r.origin, r.username or "", f"{r.updated_at:%F %T}")
    console.print(table)


@app.command()
def remove(name: Annotated[str, typer.Argument(help="Credential name.")]) -> None:
    """Remove a credential; links naming it fail with CALENDAR_CREDENTIAL_MISSING."""
    from shared import calendar_credentials
    from shared.db.uow import UnitOfWork

    with UnitOfWork() as uow:
        found = calendar_credentials.remove(uow.session, name)
        uow.commit()
    if not found:
        err_console.print(f"[bold red]no credential named {name[:64]}[/]")
        raise typer.Exit(1)
    console.print(f"credential {name} removed")


@app.command()
def rotate(as_json: JsonOpt = False) -> None:
    """Re-encrypt every stored secret under the first key of SCHEDQ_ENCRYPTION_KEYS."""
    from shared import calendar_credentials
    from shared.db.uow import UnitOfWork

    try:
        with UnitOfWork() as uow:
            count = calendar_credentials.rotate_all(uow.session)
            uow.commit()
    except SchedqError as exc:
        show_error(exc, as_json)
        raise typer.Exit(2) from None
    if as_json:
        emit_json({"reencrypted": count})
    else:
        console.print(f"{count} credential(s) re-encrypted under the first key")


@app.command("generate-key")
def generate_key() -> None:
    """Print a new random key for SCHEDQ_ENCRYPTION_KEYS (put it first to rotate)."""
    from shared.crypto import generate_key as new_key

    sys.stdout.write(new_key() + "\n")
