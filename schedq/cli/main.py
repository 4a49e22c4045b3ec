"""``schedq``: submit jobs, read outcomes, run workers, migrate, Flower and the demo."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from schedq.cli.availability import availability as availability_command
from schedq.cli.calendar import ics as ics_command
from schedq.cli.clients import app as clients_app
from schedq.cli.credentials import app as credentials_app
from schedq.cli.dlq import app as dlq_app
from schedq.cli.failures import run_cli
from schedq.cli.output import console, emit_json, err_console, job_table, show_error
from shared.errors import SchedqError, error
from shared.kinds import KINDS
from shared.ledger.input_checks import MAX_DEPTH

app = typer.Typer(
    help="schedq: durable schedule-change and calendar-sync jobs for doctors' schedules.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command(name="ics")(ics_command)

app.add_typer(dlq_app, name="dlq")
app.add_typer(credentials_app, name="credentials")
app.add_typer(clients_app, name="clients")

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print one JSON document instead of a table.")
]


@app.command()
def submit(
    kind: Annotated[str, typer.Argument(help=f"Job kind: {', '.join(sorted(KINDS))}.")],
    file: Annotated[Path, typer.Option("--file", "-f", help="JSON payload file ('-' for stdin).")],
    wait: Annotated[bool, typer.Option(help="Wait until the job is finished.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 60.0,
    idempotency_key: Annotated[
        str | None, typer.Option(help="Same key + same payload = same job.")
    ] = None,
    correlation_id: Annotated[
        str | None, typer.Option(help="Carried into logs, ledger and audit.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Submit one job; prints its id (and its outcome with --wait)."""
    from producers.client import Client
    from schedq.cli.waiting import submit_and_wait

    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        payload = json.loads(text)
    except RecursionError:
        show_error(error("PAYLOAD_TOO_DEEP", limit=MAX_DEPTH), as_json)
        raise typer.Exit(2) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        # ValueError: malformed JSON, or an integer longer than Python converts (4,300 digits).
        show_error(error("PAYLOAD_UNREADABLE", reason=str(exc).split(";")[0][:200]), as_json)
        raise typer.Exit(2) from None
    client = Client(submitter=os.environ.get("SCHEDQ_SUBMITTER", "cli"))
    try:
        if wait:
            view, note = submit_and_wait(
                client, kind, payload, idempotency_key, correlation_id, timeout, as_json
            )
        else:
            view, note = client.submit(kind, payload, idempotency_key, correlation_id), ""
    except SchedqError as exc:
        show_error(exc, as_json)
        raise typer.Exit(2) from None
    _show_job(view.model_dump(), as_json)
    if note:
        err_console.print(note, highlight=False)
    if wait and view.status != "succeeded":
        raise typer.Exit(1)


@app.command()
def job(job_id: Annotated[str, typer.Argument(help="Job id.")], as_json: JsonOpt = False) -> None:
    """Show a job's status and outcome."""
    from producers.client import get_job

    try:
        view = get_job(job_id)
    except SchedqError as exc:
        show_error(exc, as_json)
        raise typer.Exit(2) from None
    _show_job(view.model_dump(), as_json)


def _show_job(job: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(job)
    else:
        console.print(job_table(job))


@app.command()
def worker(
    queues: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated queues to consume (default: the schedule and calendar "
            "queues, SCHEDQ_SCHEDULE_QUEUE and SCHEDQ_CALENDAR_QUEUE)."
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Pool processes (or threads).")] = 2,
    pool: Annotated[str, typer.Option(help="prefork, threads or solo.")] = "prefork",
    hostname: Annotated[str | None, typer.Option(help="Worker node name.")] = None,
    loglevel: Annotated[str | None, typer.Option(help="Overrides SCHEDQ_LOG_LEVEL.")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics here (SCHEDQ_METRICS_PORT).")
    ] = None,
) -> None:
    """Run a Celery worker (refuses to start with an unsafe configuration)."""
    from schedq.ops.metrics_dir import prepare
    from shared.db.problems import schema_problem
    from shared.settings import get_settings, reset_settings_cache

    # A worker on a missing or unmigrated schema would fail every job: refuse to start.
    problem = schema_problem(get_settings().database_url)
    if problem is not None:
        show_error(problem, False)
        raise typer.Exit(2)
    # Before worker.app imports prometheus-client: multiprocess mode, last run's files wiped.
    prepare()
    if metrics_port is not None:
        os.environ["SCHEDQ_METRICS_PORT"] = str(metrics_port)
        reset_settings_cache()
    from worker.app import app as celery_app

    settings = get_settings()
    queues = queues or f"{settings.schedule_queue},{settings.calendar_queue}"
    argv = ["worker", "-Q", queues, "-c", str(concurrency), "-P", pool, "-E"]
    argv += ["--loglevel", loglevel or settings.log_level]
    if hostname:
        argv += ["-n", hostname]
    celery_app.worker_main(argv)


@app.command()
def beat(
    schedule_file: Annotated[
        Path, typer.Option(help="Where beat keeps its last-run times.")
    ] = Path(".schedq/celerybeat-schedule"),
    loglevel: Annotated[str | None, typer.Option(help="Overrides SCHEDQ_LOG_LEVEL.")] = None,
) -> None:
    """Run Celery beat (reconciler, calendar tick). Run any number: one leads, others stand by."""
    from shared.settings import get_settings
    from worker.app import app as celery_app

    schedule_file.parent.mkdir(parents=True, exist_ok=True)
    level = loglevel or get_settings().log_level
    celery_app.start(["beat", "-s", str(schedule_file), "--loglevel", level])


@app.command()
def migrate(
    create_database: Annotated[
        bool,
        typer.Option(
            "--create-database/--no-create-database",
            help="Create the database SCHEDQ_DATABASE_URL names when it does not exist.",
        ),
    ] = True,
) -> None:
    """Create the database if it is missing, upgrade the schema to the newest migration (as the
    owner role), then create or re-grant the application role SCHEDQ_APP_DB_ROLE."""
    from shared.db.migrate import head_revision, upgrade_to_head
    from shared.db.problems import create_missing_database
    from shared.db.roles import ensure_app_role
    from shared.settings import get_settings

    settings = get_settings()
    url = settings.database_url
    if create_database:
        created = create_missing_database(url)
        if created:
            console.print(f"created database {created}", highlight=False)
    upgrade_to_head(url)
    secret = settings.app_db_password
    password = secret.get_secret_value() if secret is not None else None
    ensure_app_role(url, settings.app_db_role, password)
    console.print(
        f"database at head (revision {head_revision(url)}); application role "
        f"{settings.app_db_role} granted",
        highlight=False,
    )


@app.command()
def flower(
    port: Annotated[int, typer.Option(help="HTTP port.")] = 5555,
    address: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
) -> None:
    """Run Flower (task events on; basic auth from SCHEDQ_FLOWER_BASIC_AUTH outside development)."""
    from shared.settings import get_settings
    from worker.app import app as celery_app

    settings = get_settings()
    argv = ["flower", f"--port={port}", f"--address={address}"]
    if settings.flower_basic_auth:
        argv.append(f"--basic-auth={settings.flower_basic_auth}")
    elif not flower_may_run_open(settings):
        console.print(
            "[red]SCHEDQ_FLOWER_BASIC_AUTH is required (only an explicit "
            "SCHEDQ_ENV=development runs Flower without a login)[/]"
        )
        raise typer.Exit(2)
    celery_app.start(argv)


def flower_may_run_open(settings: Any) -> bool:
    """Flower without a login only when SCHEDQ_ENV=development was set, not by default: a
    deployment that forgot the variable must not expose task arguments to anyone."""
    return "env" in settings.model_fields_set and settings.env == "development"


@app.command()
def api(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes.")] = 1,
) -> None:
    """Serve the HTTP and FHIR gateway (uvicorn); clients authenticate with bearer tokens."""
    import uvicorn

    # uvicorn's own access log prints raw paths and queries (ids, dates): ours names routes.
    uvicorn.run(
        "producers.gateway.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
    )


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="Folder for the embedded servers' data.")] = Path(
        ".schedq"
    ),
    doctors: Annotated[int, typer.Option(help="How many doctors the sample workload covers.")] = 6,
    flower_port: Annotated[int, typer.Option(help="Flower port (0 picks a free one).")] = 0,
    keep_seconds: Annotated[
        float, typer.Option(help="Keep servers up this long after the run (Flower, metrics).")
    ] = 0,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep servers up after the run until Ctrl-C.")
    ] = False,
) -> None:
    """Start embedded servers (unless SCHEDQ_DATABASE_URL/BROKER_URL are set), run a workload."""
    from schedq.cli.demo import run_demo

    raise typer.Exit(
        run_demo(data_dir, doctors, flower_port, float("inf") if keep else keep_seconds)
    )


app.command("availability")(availability_command)

from schedq.cli import ops as _ops  # noqa: E402  (exporter, stats, health)

_ops.register(app)

from schedq.cli import protect as _protect  # noqa: E402  (reencrypt, retention)

_protect.register(app)


def main() -> None:
    run_cli(app)


if __name__ == "__main__":
    main()
