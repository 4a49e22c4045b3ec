"""Fault test 9: a bad-input corpus (tests/faults/bad_inputs.json) refused with codes.

Producer-level, worker-level and broker-level cases (raw messages: bad JSON, pickle, unknown
task, oversized, wrong arguments, unknown job id; items that are not kombu envelopes), with a
valid job submitted after each one: the same worker must keep serving throughout.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from sqlalchemy import func, insert, select

from producers.client import JobRequest
from shared.db.jobs import Job
from shared.db.reliability import DeadLetter, PoisonMessage
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError
from shared.kinds import get_kind
from shared.ledger.publish import Envelope, producer_app, publish
from shared.ledger.submit import ledger_row
from tests.conftest import TEST_BROKER, wait_until
from tests.faults.conftest import FaultRig, wait_terminal

pytestmark = pytest.mark.faults

CORPUS = json.loads((Path(__file__).parent / "bad_inputs.json").read_text(encoding="utf-8"))


def _payload(case: dict[str, Any], doctor: str) -> Any:
    if "payload" in case:
        return case["payload"]
    base = json.loads(json.dumps(CORPUS["base_payload"]).replace("$doctor", doctor))
    for key in case.get("drop", []):
        base.pop(key)
    return {**base, **case.get("patch", {})}


class _RunsCode:
    """Unpickling this would create a file: proof that pickle is never loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def _ledger_only_job(rig: FaultRig, doctor: str) -> str:
    """A pending job whose real message was never published (the pickle is its only one)."""
    row = ledger_row(
        rig.client().settings, "tests", JobRequest("test_touch", {"doctor_id": doctor})
    )
    with UnitOfWork() as uow:
        uow.session.execute(insert(Job).values(row))
        uow.commit()
    return str(row["id"])


def _message(
    case: dict[str, Any], rig: FaultRig, marker: Path
) -> tuple[bytes, str, dict[str, Any]]:
    """(body, content type, headers) for a raw message case; headers carry a fresh id."""
    mid = str(uuid.uuid4())
    task = case.get("task", get_kind("test_touch").task_name)
    headers: dict[str, Any] = {} if case.get("no_task") else {"task": task, "id": mid, "lang": "py"}
    gen = case.get("generator")
    if gen in ("pickle", "pickle_existing_job"):
        if gen == "pickle_existing_job":
            headers["id"] = _ledger_only_job(rig, f"pk-{mid[:8]}")
        body = pickle.dumps([[_RunsCode(marker)], {}, {}])
        return body, "application/x-python-serialize", headers
    if gen == "oversized":
        pad = "x" * (rig.settings.max_message_bytes + 1)
        return json.dumps([[mid], {}, {"pad": pad}]).encode(), "application/json", headers
    if "raw" in case:
        return case["raw"].encode(), case["content_type"], headers
    if "raw_hex" in case:
        return bytes.fromhex(case["raw_hex"]), case["content_type"], headers
    body = json.dumps(case["body"]).replace("$id", mid).encode()
    return body, "application/json", headers


def test_bad_input_corpus_is_refused_with_codes_and_the_worker_keeps_serving(
    rig: FaultRig, uid: str, tmp_path: Path, report: dict[str, Any]
) -> None:
    node = rig.worker("corpus", concurrency=1)
    client = rig.client()
    marker = tmp_path / "pickle-was-loaded"
    cases = CORPUS["cases"]
    assert len(cases) >= 50
    outcomes: dict[str, str] = {}
    rejected_jobs: dict[str, tuple[str, str]] = {}
    poison: dict[str, tuple[str, str | None]] = {}  # case -> (expected, message id)
    valid: list[str] = []
    envelopes = 0
    started = datetime.now(UTC)
    queue = rig.settings.schedule_queue
    with Connection(rig.settings.broker_url) as conn:
        producer = conn.Producer()
        for i, case in enumerate(cases):
            name = case["name"]
            if case["layer"] == "submit":
                try:
                    client.submit(case.get("kind", "set_working_plan"), _payload(case, f"bi{uid}"))
                    outcomes[name] = "ACCEPTED"
                except SchedqError as exc:
                    codes = [v["code"] for v in exc.details.get("violations", [])]
                    ok = exc.code == case["expect"] and case.get(
                        "violation", codes[0] if codes else None
                    ) in (codes or [None])
                    outcomes[name] = "ok" if ok else f"{exc.code} {codes}"
            elif case["layer"] == "worker":
                view = client.submit("set_working_plan", _payload(case, f"bw{uid}-{i}"))
                rejected_jobs[name] = (view.id, case["violation"])
            elif case["layer"] == "envelope":
                # Straight onto the queue, as a misconfigured client or a person might.
                rig.broker.push_raw(queue, case["raw"])
                if TEST_BROKER == "amqp":
                    # RabbitMQ only holds AMQP messages: the item arrives as a message with
                    # no task in it, refused by the screening consumer (by body hash).
                    ref = hashlib.sha256(case["raw"].encode()).hexdigest()
                    poison[name] = ("UNKNOWN_MESSAGE_FORMAT", ref)
                else:
                    envelopes += 1
            elif case.get("generator") == "unknown_job":
                mid = str(uuid.uuid4())
                publish(
                    producer_app(rig.settings),
                    [Envelope(mid, get_kind("test_touch").task_name, queue, "corpus")],
                )
                poison[name] = (case["expect"], mid)
            else:
                body, ctype, headers = _message(case, rig, marker)
                producer.publish(
                    body,
                    exchange=producer_app(rig.settings).amqp.queues[queue].exchange,
                    routing_key=queue,
                    content_type=ctype,
                    content_encoding="binary",
                    headers=headers,
                )
                poison[name] = (
                    case["expect"],
                    headers.get("id") or hashlib.sha256(body).hexdigest(),
                )
            # A valid job after every bad input: the worker must keep serving.
            valid.append(client.submit("test_touch", {"doctor_id": f"bv{uid}-{i}"}).id)
    final_valid = wait_terminal(valid, timeout=90)
    wait_terminal([j for j, _ in rejected_jobs.values()], timeout=30)
    for name, (job_id, violation) in rejected_jobs.items():
        view = client.get_job(job_id)
        codes = [v["code"] for v in (view.error or {}).get("details", {}).get("violations", [])]
        outcomes[name] = (
            "ok" if view.status == "rejected" and violation in codes else f"{view.status} {codes}"
        )

    def poison_seen() -> dict[str, str]:
        with UnitOfWork() as uow:
            rows = uow.session.execute(
                select(PoisonMessage.message_id, PoisonMessage.body_sha256, PoisonMessage.code)
            ).all()
        return {
            **{r.body_sha256: r.code for r in rows},
            **{str(r.message_id): r.code for r in rows},
        }

    assert wait_until(
        lambda: all(ref in poison_seen() for _, ref in poison.values()), timeout=30
    ), node.log()
    seen = poison_seen()
    with UnitOfWork() as uow:
        unreadable = uow.session.scalar(
            select(func.count()).where(
                PoisonMessage.code == "UNREADABLE_ENVELOPE", PoisonMessage.at >= started
            )
        )
    for case in cases:
        if case["layer"] == "envelope" and TEST_BROKER != "amqp":
            outcomes[case["name"]] = "ok" if unreadable == envelopes else f"{unreadable} recorded"
    for name, (expected, ref) in poison.items():
        outcomes[name] = "ok" if seen.get(str(ref)) == expected else f"got {seen.get(str(ref))}"
    with UnitOfWork() as uow:  # the pickle naming a real job dead-lettered that job
        letters = uow.session.scalars(
            select(DeadLetter).where(DeadLetter.error_code == "POISON_CONTENT_TYPE_REFUSED")
        ).all()
    wrong = {n: o for n, o in outcomes.items() if o != "ok"}
    served = sum(s == "succeeded" for s in final_valid.values())
    report.update(
        cases=len(cases),
        refused_as_expected=len(cases) - len(wrong),
        valid_jobs_interleaved=len(valid),
        valid_jobs_succeeded=served,
        pickle_executed=marker.exists(),
        dead_letters_from_poison=len(letters),
    )
    assert wrong == {}
    assert served == len(valid) and node.proc.poll() is None
    assert not marker.exists()
    assert len(letters) == 1
