"""Submitting over RabbitMQ (the machine's, queues private to the test), whatever the run's broker.

Publisher confirms: when ``submit`` returns, RabbitMQ holds the message in a quorum queue; with
RabbitMQ unreachable the submit still returns and the ledger row stays for the reconciler.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from kombu import Connection

from producers.client import Client
from shared.db.jobs import Job
from shared.db.uow import UnitOfWork
from shared.ledger.publish import Envelope, producer_app, publish_committed
from shared.settings import Settings, get_settings
from tests.conftest import AMQP_URL, delete_amqp_queues, queue_names
from tests.integration.test_client import plan


@pytest.fixture
def amqp_settings(database_url: str, uid: str) -> Iterator[Settings]:
    names = queue_names(f"it{uid}-")
    fields = {k.removeprefix("SCHEDQ_").lower(): v for k, v in names.items()}
    yield Settings(**{**get_settings().model_dump(), **fields, "broker_url": AMQP_URL})
    delete_amqp_queues([*names.values(), f"{names['SCHEDQ_DEAD_LETTER_QUEUE']}.poison"])


def ready(queue: str) -> int:
    with Connection(AMQP_URL, connect_timeout=5) as conn:
        _, count, _ = conn.default_channel.queue_declare(queue=queue, passive=True)
    return int(count)


def test_submit_returns_once_rabbitmq_confirmed_the_message(
    amqp_settings: Settings, uid: str
) -> None:
    app = producer_app(amqp_settings)
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        # py-amqp swaps basic_publish for the confirming variant on a confirm_publish connection.
        assert channel.basic_publish == channel.basic_publish_confirm
    view = Client(amqp_settings, submitter="itest").submit("set_working_plan", plan(f"a-{uid}"))
    # No wait, no poll: the confirm came back before submit returned.
    assert ready(amqp_settings.schedule_queue) == 1
    with Connection(AMQP_URL, connect_timeout=5) as conn:
        message = conn.SimpleQueue(app.amqp.queues[amqp_settings.schedule_queue]).get(timeout=5)
        assert message.headers["id"] == view.id
        assert message.delivery_info["routing_key"] == amqp_settings.schedule_queue
        message.ack()


def test_quorum_queue_with_delivery_limit_and_dead_letter_exchange(amqp_settings: Settings) -> None:
    app = producer_app(amqp_settings)
    queue = app.amqp.queues[amqp_settings.schedule_queue]
    with app.connection_for_write() as conn:
        queue.bind(conn.default_channel).declare()
        # Re-declaring with other arguments fails: the server really holds these.
        channel = conn.channel()
        with pytest.raises(Exception, match=r"PRECONDITION_FAILED|inequivalent"):
            channel.queue_declare(
                queue=queue.name, durable=True, arguments={"x-queue-type": "classic"}
            )
        with contextlib.suppress(Exception):
            channel.close()
    args = queue.queue_arguments
    assert args["x-queue-type"] == "quorum"
    assert args["x-delivery-limit"] == amqp_settings.max_deliveries + 2
    assert args["x-dead-letter-exchange"] == f"{amqp_settings.dead_letter_queue}.poison"


def test_submit_with_rabbitmq_unreachable_leaves_the_row_for_the_reconciler(
    amqp_settings: Settings, uid: str
) -> None:
    down = Settings(
        **{**amqp_settings.model_dump(), "broker_url": "amqp://guest:guest@127.0.0.1:1//"}
    )
    view = Client(down, submitter="itest").submit("set_working_plan", plan(f"d-{uid}"))
    with UnitOfWork() as uow:
        job = uow.session.get(Job, uuid.UUID(view.id))
        assert job is not None and job.status == "queued"


def _close_on_the_server(local_port: int) -> None:
    """Close one client connection from RabbitMQ's side, as a broker restart does to them all
    (found by its peer port; the machine's other connections are left alone)."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "peer_port"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    pids = [
        line.split("\t")[0]
        for line in listed.splitlines()
        if line.split("\t")[-1].strip() == str(local_port)
    ]
    assert len(pids) == 1, listed
    subprocess.run(
        ["rabbitmqctl", "close_connection", pids[0], "test: broker went away"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


TASK = "schedq.schedule.set_working_plan"


def _pooled_connection_closed_by_the_broker(settings: Settings) -> None:
    """Publish once (so this process holds a pooled connection that declared the dead-letter
    queue), then have RabbitMQ close that connection, as a broker restart would."""
    dead_letter = Envelope(str(uuid.uuid4()), TASK, settings.dead_letter_queue, "c")
    assert publish_committed(settings, [dead_letter]) == 1
    with producer_app(settings).producer_or_acquire() as producer:
        local_port = producer.connection.connection.sock.getsockname()[1]
    _close_on_the_server(local_port)


def test_a_pooled_connection_the_broker_closed_is_reconnected_for_the_next_publish(
    amqp_settings: Settings,
) -> None:
    """The first publish after a broker restart, to a queue this process had not declared yet
    on its pooled connection, is sent (it used to raise on the dead socket and leave the job to
    the reconciler: a calendar beat tick's syncs waited minutes)."""
    _pooled_connection_closed_by_the_broker(amqp_settings)

    job = Envelope(str(uuid.uuid4()), TASK, amqp_settings.schedule_queue, "c")
    assert publish_committed(amqp_settings, [job]) == 1
    assert ready(amqp_settings.schedule_queue) == 1


def test_the_declaration_retries_as_the_configured_publish_policy_says(
    amqp_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue declaration before a publish follows ``task_publish_retry_policy`` (kombu's
    own default would retry without limit): told to retry 0 times, a declaration on a pooled
    connection the broker closed gives up at once, and the row stays for the reconciler."""
    _pooled_connection_closed_by_the_broker(amqp_settings)
    app = producer_app(amqp_settings)
    monkeypatch.setitem(app.conf, "task_publish_retry_policy", {"max_retries": 0})

    job = Envelope(str(uuid.uuid4()), TASK, amqp_settings.schedule_queue, "c")
    assert publish_committed(amqp_settings, [job]) == 0  # not sent: the reconciler's to send
