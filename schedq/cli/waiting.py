"""``schedq submit --wait``: say what is being waited for, and what happens when time runs out.

On a terminal a spinner names the step (recording and publishing, then the job's status and
the seconds left); elsewhere, and with ``--json``, nothing is drawn. A job that is not finished
when the time is up is still safe in the ledger: the closing note says so and what happens next.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from producers.client import Client, JobView
from schedq.cli.output import err_console


def submit_and_wait(
    client: Client,
    kind: str,
    payload: Mapping[str, Any],
    idempotency_key: str | None,
    correlation_id: str | None,
    timeout: float,
    as_json: bool,
) -> tuple[JobView, str]:
    """The job's last view, and a note for a job still unfinished at the deadline ('' if not)."""
    spin = err_console.is_terminal and not as_json
    status: AbstractContextManager[Any] = (
        err_console.status("recording the job in the ledger and sending it to the broker ...")
        if spin
        else nullcontext()
    )
    with status as spinner:
        view = client.submit(kind, payload, idempotency_key, correlation_id)
        deadline = time.monotonic() + timeout
        while not view.terminal:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if spinner is not None:
                doing = "pick it up" if view.status == "queued" else "finish it"
                spinner.update(
                    f"job {view.id[:8]} is {view.status}: waiting for a worker to {doing} "
                    f"({left:.0f}s left, Ctrl-C stops waiting, not the job)"
                )
            time.sleep(min(0.2, max(left, 0)))
            view = client.get_job(view.id)
    return view, "" if view.terminal else unfinished_note(client, view, timeout)


def unfinished_note(client: Client, view: JobView, timeout: float) -> str:
    from schedq.ops.health import broker

    settings = client.settings
    after = settings.reconcile_after_seconds
    safe = (
        f"job {view.id} is safe in the ledger ({view.status}) but did not finish within "
        f"{timeout:g}s."
    )
    if not broker(settings, 2.0).ok:
        return (
            f"{safe} The broker cannot be reached, so no worker has it yet: once the broker is "
            f"back, `schedq beat`'s reconciler sends every job still queued after {after}s "
            f"(SCHEDQ_RECONCILE_AFTER_SECONDS) and a worker runs it. Follow it with "
            f"`schedq job {view.id}`."
        )
    return (
        f"{safe} No worker has finished it yet: check that `schedq worker` runs for its queue "
        f"(`schedq health ready`). It will run when a worker takes it; follow it with "
        f"`schedq job {view.id}`."
    )
