"""Task events for Flower, published in batches instead of one message per loop turn.

Celery's event dispatcher already buffers task events (``task-received``, ``-started``,
``-succeeded``, ``-failed``, ``-retried``) when the worker runs an event loop, but it flushes
them on the loop's next turn. With prefetch 1 a turn handles about one message, so each task
still costs up to three broker publishes on the worker's main process, which is the process
every job passes through. This step keeps Celery's buffer and its ``task-multi`` message (one
message holding a list of events, which Celery's event receiver and so Flower unpack in order)
and only changes when it is flushed: when ``FLUSH_EVENTS`` are waiting, or ``FLUSH_SECONDS``
after the first of them, whichever comes first.

What that costs: Flower shows a state up to ``FLUSH_SECONDS`` later, and a worker killed with
SIGKILL loses the events of its last ``FLUSH_SECONDS`` (never a job: the ledger is the record
of outcomes, events are only a view of it). A warm shutdown flushes them (Celery's own
``Events`` step does on close).
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps

# Seconds between the first buffered event and its flush, and the buffer size that flushes at
# once. 0.25 s keeps Flower's view live; 128 events is about 40 tasks, one message of ~30 KiB.
FLUSH_SECONDS = 0.25
FLUSH_EVENTS = 128


class BatchedTaskEvents(bootsteps.StartStopStep):
    """Consumer step: flush the task-event buffer by size or on a timer."""

    requires = ("celery.worker.consumer.events:Events",)

    def __init__(self, c: Any, **kwargs: Any) -> None:
        self.pending: Any = None  # the timer entry of a scheduled flush
        super().__init__(c, **kwargs)

    def start(self, c: Any) -> None:
        dispatcher = c.event_dispatcher
        # Without an event loop (solo/threads pools) Celery publishes each event at once and
        # there is no buffer to change; without task events there is nothing to batch.
        if c.hub is None or dispatcher is None or not dispatcher.enabled:
            return
        # Events (and this step) start again after a broker reconnect, with a new dispatcher.
        self.pending = None
        dispatcher.buffer_limit = FLUSH_EVENTS
        dispatcher.on_send_buffered = lambda: self._schedule(c)

    def _schedule(self, c: Any) -> None:
        if self.pending is None:
            self.pending = c.hub.call_later(FLUSH_SECONDS, self._flush, c)

    def _flush(self, c: Any) -> None:
        self.pending = None
        if c.event_dispatcher is not None:
            c.event_dispatcher.flush()

    def shutdown(self, c: Any) -> None:
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None
        self._flush(c)
