"""The beat scheduler schedq runs: leader-elected, with the reconciler run inside beat itself.

``celery beat --scheduler worker.runtime.beat_scheduler:LeaderScheduler`` (``worker_config``
sets it, so ``schedq beat`` uses it). Each tick first asks :class:`LeaderLock` whether this beat
leads; a standby sends nothing and asks again after ``SCHEDQ_BEAT_STANDBY_POLL_SECONDS``. That
poll also bounds how late a leader notices it lost its session, so it bounds a takeover too.

Entries whose task is in :data:`IN_BEAT` run here, in the beat process, instead of being sent:
the reconciler must never wait on a queue behind the backlog it is there to recover (issue 18:
with a 1 s interval and a deep backlog, 89 of 92 reconcile messages expired unconsumed).
Every run and every send is one log line, so tests and operators count them.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry

from shared.settings import get_settings
from worker.beat_schedule import RECONCILE_TASK
from worker.reliability import reconciler
from worker.runtime.leader import LeaderLock, lock_key

log = logging.getLogger("schedq.beat")

IN_BEAT: dict[str, Callable[[], Any]] = {RECONCILE_TASK: reconciler.run}


class LeaderScheduler(PersistentScheduler):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        settings = get_settings()
        self.standby_poll = settings.beat_standby_poll_seconds
        self.beat_name = f"{socket.gethostname()}:{os.getpid()}"
        self.leader = LeaderLock(
            settings.database_url, lock_key(settings.schedule_queue), self.beat_name
        )
        self._announced_standby = False
        super().__init__(*args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if not self.leader.holds():
            if not self._announced_standby:
                log.warning("beat %s stands by (another beat leads)", self.beat_name)
                self._announced_standby = True
            return self.standby_poll
        self._announced_standby = False
        return float(min(super().tick(*args, **kwargs), self.standby_poll))

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        local = IN_BEAT.get(entry.task)
        if local is None:
            log.info("beat %s sends %s", self.beat_name, entry.name, extra=self._event(entry))
            super().apply_entry(entry, producer=producer)
            return
        try:
            result = local()
        except Exception:
            # Beat must outlive a failing run (database down): the next interval tries again.
            log.exception("beat %s: %s failed in beat", self.beat_name, entry.name)
            return
        log.info(
            "beat %s ran %s in beat: %s", self.beat_name, entry.name, result,
            extra=self._event(entry),
        )  # fmt: skip

    def _event(self, entry: ScheduleEntry) -> dict[str, Any]:
        # Structured fields (JSON logs): which beat, which entry, when to the millisecond.
        return {"beat": self.beat_name, "entry": entry.name, "at": round(time.time(), 3)}

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leader.release()
