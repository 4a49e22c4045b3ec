"""``schedq clients``: API clients of the HTTP gateway (create, list, revoke, rotate).

A token is printed once, at create or rotate; only its argon2 hash is stored. The audit log
records who (the operator's OS user) changed which client.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.table import Table

from schedq.cli.output import console, emit_json, show_error
from shared.errors import SchedqError

app = typer.Typer(help="API clients of the HTTP gateway.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _show_token(name: str, token: str, as_json: bool) -> None:
    if as_json:
        emit_json({"name": name, "token": token})
        return
    console.print(f"token for [bold]{name}[/] (shown once; store it now):")
    # Plain print: no wrapping or markup inside the token.
    print(token)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="The client's name (the jobs' submitter).")],
    role: Annotated[str, typer.Option(help="submitter, reader, operator or admin.")],
    kinds: Annotated[
        str | None, typer.Option(help="Comma-separated job kinds a submitter may submit (all).")
    ] = None,
    doctors: Annotated[
        str | None,
        typer.Option(help="Comma-separated doctor id patterns, * and ? wildcards (all)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an API client and print its token once."""
    from producers.gateway.clients import create_client

    try:
        token = create_client(name, role, _split(kinds), _split(doctors), _actor())
    except SchedqError as exc:
        show_error(exc, as_json)
        raise typer.Exit(2) from None
    _show_token(name, token, as_json)


@app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """List API clients (never their tokens)."""
    from producers.gateway.clients import list_clients

    rows = [c.as_dict() for c in list_clients()]
    if as_json:
        emit_json(rows)
        return
    table = Table("name", "role", "kinds", "doctors", "created", "revoked")
    for r in rows:
        table.add_row(
            r["name"],
            r["role"],
            ",".join(r["kinds"]),
            ",".join(r["doctors"]),
            r["created_at"][:19],
            (r["revoked_at"] or "")[:19],
        )
    console.print(table)


@app.command()
def revoke(name: Annotated[str, typer.Argument(help="The client's name.")]) -> None:
    """Revoke a client: its token stops working at once."""
    from producers.gateway.clients import revoke_client

    try:
        revoke_client(name, _actor())
    except SchedqError as exc:
        show_error(exc, False)
        raise typer.Exit(2) from None
    console.print(f"revoked {name}")


@app.command()
def rotate(
    name: Annotated[str, typer.Argument(help="The client's name.")], as_json: JsonOpt = False
) -> None:
    """Give a client a new token (printed once); the old one stops working at once."""
    from producers.gateway.clients import rotate_client

    try:
        token = rotate_client(name, _actor())
    except SchedqError as exc:
        show_error(exc, as_json)
        raise typer.Exit(2) from None
    _show_token(name, token, as_json)
