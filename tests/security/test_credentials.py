"""Secret theft: a credential works only for its doctor and its exact origin, is registered by
an operator (CLI), encrypted at rest, and never logged. Real PostgreSQL, real servers."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import text, update

from shared import crypto
from shared.db.calendar import CalendarCredential, CalendarLink
from shared.db.uow import UnitOfWork
from shared.errors import SchedqError
from tests.calendar_servers import RadicaleServer
from tests.calendar_support import add_credential, ics, make_doctor, run, vevent
from tests.security.hostile import HostileServer, body, redirect

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")
FEED = ics(vevent("e1", "DTSTART:20261201T080000Z", "DTEND:20261201T090000Z"))


def link(doctor: str, url: str, kind: str = "ics", **extra: object) -> str:
    payload = {"doctor_id": doctor, "kind": kind, "url": url, **extra}
    return str(run("link_calendar", payload)["link_id"])


def basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


@pytest.fixture
def victim(hostile: HostileServer, uid: str) -> tuple[str, str, str]:
    """Doctor A's credential for A's provider (this server's origin)."""
    doctor = make_doctor(f"victim-{uid}")
    secret = f"victims-password-{uid}"
    add_credential(f"A_{uid}", doctor, hostile.url("/"), secret, username="a")
    return doctor, f"A_{uid}", secret


@pytest.mark.parametrize(
    ("kind", "path"),
    [("ics", "/steal.ics"), ("ics", "/steal/{secret}.ics"), ("caldav", "/dav/steal/")],
)
def test_another_doctors_credential_is_refused_and_nothing_is_contacted(
    hostile: HostileServer, victim: tuple[str, str, str], uid: str, kind: str, path: str
) -> None:
    """The attack of issue 12: a throwaway doctor linked to the attacker's server naming the
    victim's credential (Basic auth, the {secret} URL form, CalDAV)."""
    _doctor, name, secret = victim
    attacker_server = HostileServer()
    try:
        throwaway = make_doctor(f"thief-{uid}-{kind}{len(path)}")
        url = attacker_server.url(path)
        with pytest.raises(SchedqError) as caught:
            link(throwaway, url, kind=kind, username="a", secret_ref=name)
        assert caught.value.code == "CALENDAR_CREDENTIAL_NOT_BOUND"
        assert secret not in str(caught.value.as_dict())
        assert attacker_server.seen == [] and hostile.seen == []
    finally:
        attacker_server.close()


def test_the_victims_own_link_to_another_origin_is_refused(
    hostile: HostileServer, victim: tuple[str, str, str]
) -> None:
    doctor, name, _secret = victim
    other = HostileServer()
    try:
        for url in (other.url("/x.ics"), hostile.url("/x.ics").replace("http:", "https:")):
            with pytest.raises(SchedqError) as caught:
                link(doctor, url, secret_ref=name)
            assert caught.value.code == "CALENDAR_CREDENTIAL_NOT_BOUND"
        assert other.seen == [] and hostile.seen == []
    finally:
        other.close()


def test_a_stored_link_moved_to_another_origin_is_refused_at_sync_before_contact(
    hostile: HostileServer, victim: tuple[str, str, str]
) -> None:
    """Defence in depth: even a link row changed behind the job's back (an old row, a manual
    edit) never takes the credential anywhere else."""
    doctor, name, _secret = victim
    hostile.on("/a.ics", body(FEED))
    link_id = link(doctor, hostile.url("/a.ics"), username="a", secret_ref=name)
    other = HostileServer()
    try:
        with UnitOfWork() as uow:
            uow.session.execute(
                update(CalendarLink)
                .where(CalendarLink.id == uuid.UUID(link_id))
                .values(url=other.url("/a.ics"))
            )
            uow.commit()
        with pytest.raises(SchedqError) as caught:
            run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
        assert caught.value.code == "CALENDAR_CREDENTIAL_NOT_BOUND"
        assert other.seen == [] and hostile.seen == []
    finally:
        other.close()


def test_the_credential_goes_only_to_its_origin_even_through_a_redirect(
    hostile: HostileServer, victim: tuple[str, str, str]
) -> None:
    doctor, name, secret = victim
    elsewhere = HostileServer()
    try:
        elsewhere.on("/landing.ics", body(FEED))
        hostile.on("/a.ics", redirect(elsewhere.url("/landing.ics")))
        link_id = link(doctor, hostile.url("/a.ics"), username="a", secret_ref=name)
        run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
        assert hostile.seen[0].headers.get("Authorization") == basic("a", secret)
        assert [s.path for s in elsewhere.seen] == ["/landing.ics"]
        assert "Authorization" not in elsewhere.seen[0].headers
    finally:
        elsewhere.close()


def test_caldav_sends_the_credential_only_to_its_origin(
    radicale_server: RadicaleServer, hostile: HostileServer, uid: str
) -> None:
    """CalDAV goes through the same egress: Basic auth from the bound credential, preemptively
    and only to the collection's origin (caldav's own 401 negotiation is not used)."""
    doctor = make_doctor(f"dav-{uid}")
    cal = radicale_server.make_calendar(f"/sec{uid}/cal/")
    add_credential(f"DAV_{uid}", doctor, cal, f"dav-secret-{uid}", username="tester")
    seen_before = len(radicale_server.requests)
    link_id = link(doctor, cal, kind="caldav", username="tester", secret_ref=f"DAV_{uid}")
    outcome = run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert outcome["fetched"] == "full"
    assert len(radicale_server.requests) > seen_before
    assert hostile.seen == []


def test_secrets_are_encrypted_at_rest_and_never_logged(
    hostile: HostileServer, victim: tuple[str, str, str], caplog: pytest.LogCaptureFixture
) -> None:
    doctor, name, secret = victim
    hostile.on("/denied.ics", body(b"no", status=401))
    link_id = link(doctor, hostile.url("/denied.ics"), username="a", secret_ref=name)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SchedqError) as caught:
        run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert caught.value.code == "CALENDAR_AUTH_REFUSED"
    assert hostile.seen[0].headers["Authorization"] == basic("a", secret)  # it was used...
    assert secret not in caplog.text  # ...and never logged
    with UnitOfWork() as uow:
        raw = uow.session.execute(
            text("SELECT secret_encrypted FROM calendar_credentials WHERE name = :n"), {"n": name}
        ).scalar_one()
        dumped = uow.session.execute(text("SELECT row_to_json(j)::text FROM jobs j")).scalars()
        assert secret not in raw and crypto.decrypt(raw) == secret
        assert all(secret not in row for row in dumped)


def cli(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schedq.cli.main", *args],
        input=stdin, capture_output=True, text=True, env={**os.environ, **(env or {})},
        timeout=60,
    )  # fmt: skip


def test_operators_register_list_and_rotate_credentials_with_the_cli(uid: str) -> None:
    doctor = make_doctor(f"cli-{uid}")
    secret = f"cli-secret-{uid}"
    args = ["--doctor", doctor, "--url", "https://cal.example.org/dav/", "--username", "u"]
    added = cli("credentials", "add", f"C_{uid}", *args, stdin=secret + "\n")
    assert added.returncode == 0, added.stderr
    assert "https://cal.example.org:443" in added.stdout and secret not in added.stdout
    listed = cli("credentials", "list", "--doctor", doctor, "--json")
    assert f"C_{uid}" in listed.stdout and secret not in listed.stdout
    with UnitOfWork() as uow:
        before = uow.session.get(CalendarCredential, f"C_{uid}")
        assert before is not None
        old_token = before.secret_encrypted
    new_key = crypto.generate_key()
    keys = f"{new_key},{os.environ['SCHEDQ_ENCRYPTION_KEYS']}"
    rotated = cli("credentials", "rotate", env={"SCHEDQ_ENCRYPTION_KEYS": keys})
    assert rotated.returncode == 0, rotated.stderr
    with UnitOfWork() as uow:
        after = uow.session.get(CalendarCredential, f"C_{uid}")
        assert after is not None and after.secret_encrypted != old_token
        assert crypto.decrypt(after.secret_encrypted, (new_key,)) == secret  # the newest key
    assert cli("credentials", "remove", f"C_{uid}").returncode == 0
    assert cli("credentials", "remove", f"C_{uid}").returncode == 1


def test_a_job_payload_cannot_register_a_credential(uid: str) -> None:
    doctor = make_doctor(f"pl-{uid}")
    with pytest.raises(SchedqError) as caught:
        url = "https://cal.example.org/x.ics"
        run("link_calendar", {"doctor_id": doctor, "kind": "ics", "url": url, "secret": "pw"})
    assert caught.value.code == "VALIDATION_FAILED"
