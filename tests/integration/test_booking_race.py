"""Two processes book the same slot 200 times: exactly one wins every round.

Run twice: through the booking service (rule check under the doctor's lock) and with plain
inserts (only the btree_gist exclusion constraint decides). The loser's error is
SCHEDULE_CONFLICT either way: SQLSTATE 23P01 maps to the code the rule check gives.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from datetime import date

import pytest

from producers.client import Client
from tests.domain_support import apply, plan_payload
from tests.integration.racer import race

ROUNDS = 200


@pytest.mark.parametrize("mode", ["service", "constraint"])
def test_two_processes_book_the_same_slot_200_times(
    database_url: str, redis_url: str, uid: str, mode: str
) -> None:
    doctor = f"race-{mode}-{uid}"
    every_day = {
        d: [{"start": "08:00", "end": "20:00"}] for d in ("mon", "tue", "wed", "thu", "fri")
    }
    assert (
        apply("set_working_plan", plan_payload(doctor, slot=10, days=every_day)).status
        == "succeeded"
    )
    answer = Client().availability(doctor, date(2026, 1, 5), date(2026, 1, 9))
    slots = [(s["start"], s["end"]) for s in answer["slots"]][:ROUNDS]
    assert len(slots) == ROUNDS

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2, timeout=30)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=race, args=(name, mode, doctor, slots, barrier, results))
        for name in ("racer-a", "racer-b")
    ]
    for p in procs:
        p.start()
    outcomes = dict(results.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    retried = outcomes["racer-a"].count("retried") + outcomes["racer-b"].count("retried")
    a = [x for x in outcomes["racer-a"] if x != "retried"]
    b = [x for x in outcomes["racer-b"] if x != "retried"]
    assert len(a) == len(b) == ROUNDS
    per_round = [sorted((x, y)) for x, y in zip(a, b, strict=True)]
    assert all(r == ["SCHEDULE_CONFLICT", "won"] for r in per_round), Counter(map(tuple, per_round))
    wins = Counter(a)["won"], Counter(b)["won"]
    print(f"{mode}: a won {wins[0]}, b won {wins[1]} of {ROUNDS}; {retried} deadlock retries")
    assert sum(wins) == ROUNDS
