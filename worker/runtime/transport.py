"""The Redis transport, hardened against two ways kombu 5.x stops a worker for good.

kombu pops an item with BRPOP and decodes it as JSON before Celery's consumer sees anything;
if that fails the exception reaches Celery's main loop as an "Unrecoverable error" and the
worker exits (celery/celery#1113): one ``LPUSH schedule garbage`` would stop every worker in
turn. This channel treats such an item as poison instead: BRPOP already removed it, so it is
logged, recorded (``UNREADABLE_ENVELOPE``) and the worker carries on.

Second, when Redis goes away, Celery closes the connection and then this channel, whose close
tries to restore unacked messages through a connection that is already torn down
(``AttributeError`` on ``None``, kombu#582/#970): again an "Unrecoverable error". Closing is
made best effort; the unacked messages stay in Redis (restored after the visibility timeout)
and the ledger still holds the jobs, so the reconciler resends them; Celery reconnects.

Selected for ``redis://`` brokers by ``worker.app`` (``broker_transport``).
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import redis

from shared.settings import get_settings
from worker.reliability import poison

log = logging.getLogger("schedq.transport")


class Channel(redis.Channel):
    def _brpop_read(self, **options: Any) -> bool:
        try:
            return bool(super()._brpop_read(**options))
        except (ValueError, KeyError, TypeError) as exc:
            # Raised while decoding the popped item or building a message from it; anything
            # Celery raises while handling a well-formed message is caught inside Celery.
            log.error(
                "dropped a queue item that is not a message envelope (%s)", type(exc).__name__
            )
            refusal = poison.Refusal(
                "UNREADABLE_ENVELOPE", f"queue item unreadable: {type(exc).__name__}"
            )
            poison.record(get_settings(), refusal)
            return True

    def close(self) -> None:
        try:
            super().close()
        except AttributeError:
            log.warning("broker channel closed after its connection was gone; reconnecting")


class Transport(redis.Transport):
    Channel = Channel
