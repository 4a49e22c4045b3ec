"""Export to a real Radicale: stable UIDs, SEQUENCE, If-Match, the 412 policy, 'both' links."""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import func, select, update

from shared.db.calendar import ExportedEvent
from shared.db.schedule import Appointment
from shared.db.uow import UnitOfWork
from tests.calendar_servers import RadicaleServer
from tests.calendar_support import (
    add_appointment,
    busy,
    make_doctor,
    next_monday,
    run,
    run_applied,
)
from worker.pipeline.context import CalendarEvents

pytestmark = pytest.mark.usefixtures("database_url", "redis_url")
BERLIN = ZoneInfo("Europe/Berlin")


def setup(radicale: RadicaleServer, uid: str, direction: str = "export") -> tuple[str, str, str]:
    doctor = make_doctor(f"pub-{uid}")
    cal = radicale.make_calendar(f"/pub{uid}/cal/")
    payload = {"doctor_id": doctor, "kind": "caldav", "url": cal, "direction": direction}
    return doctor, cal, str(run("link_calendar", payload)["link_id"])


def publish(radicale: RadicaleServer, doctor: str) -> dict[str, Any]:
    radicale.requests.clear()
    radicale.conditions.clear()
    applied = run_applied("publish_calendar", {"doctor_id": doctor})
    result = applied.result
    assert len(result["links"]) == 1
    sent = result["links"][0]["sent"]
    # Metrics count the typed figure; the stored result keeps its events_synced key.
    assert applied.events == CalendarEvents(exported=sent) and applied.conflicts is None
    assert result["events_synced"] == {"export": sent}
    return dict(result["links"][0])


def remote_event(radicale: RadicaleServer, cal: str, appt: uuid.UUID) -> icalendar.Event:
    text, _ = radicale.get(f"{cal}{appt}.ics")
    return icalendar.Calendar.from_ical(text).walk("VEVENT")[0]


def move(appt: uuid.UUID, minutes: int) -> None:
    with UnitOfWork() as uow:
        uow.session.execute(
            update(Appointment)
            .where(Appointment.id == appt)
            .values(
                starts_at=Appointment.starts_at + timedelta(minutes=minutes),
                ends_at=Appointment.ends_at + timedelta(minutes=minutes),
                updated_at=func.now(),
            )
        )
        uow.commit()


def exported(appt: uuid.UUID) -> dict[str, Any]:
    with UnitOfWork() as uow:
        row = uow.session.scalars(
            select(ExportedEvent).where(ExportedEvent.appointment_id == appt)
        ).one()
        return {"uid": row.uid, "etag": row.etag, "sequence": row.sequence}


def test_publish_creates_then_skips_then_updates_with_if_match(
    radicale_server: RadicaleServer, uid: str
) -> None:
    doctor, cal, _ = setup(radicale_server, uid)
    start = datetime.combine(next_monday(), time(9), BERLIN)
    first, second = (
        add_appointment(doctor, start),
        add_appointment(doctor, start, status="cancelled"),
    )

    created = publish(radicale_server, doctor)
    assert (created["created"], created["sent"]) == (2, 2)
    assert [c[3] for c in radicale_server.conditions] == ["*", "*"]  # If-None-Match on create
    ev = remote_event(radicale_server, cal, first)
    assert str(ev["UID"]) == f"{first}@schedq"
    assert int(ev["SEQUENCE"]) == 0
    assert str(ev["DESCRIPTION"]) == f"Patient reference: P-{first.hex[:6]}"
    assert str(ev["SUMMARY"]) == "Appointment"
    assert str(remote_event(radicale_server, cal, second)["STATUS"]) == "CANCELLED"

    unchanged = publish(radicale_server, doctor)
    assert (unchanged["sent"], unchanged["unchanged"]) == (0, 2)
    assert radicale_server.requests == []

    stored_etag = exported(first)["etag"]
    move(first, 30)
    updated = publish(radicale_server, doctor)
    assert (updated["updated"], updated["sent"]) == (1, 1)
    assert radicale_server.conditions == [("PUT", f"/pub{uid}/cal/{first}.ics", stored_etag, None)]
    ev = remote_event(radicale_server, cal, first)
    assert (str(ev["UID"]), int(ev["SEQUENCE"])) == (f"{first}@schedq", 1)
    assert ev["DTSTART"].dt == start + timedelta(minutes=30)


def test_edit_on_both_sides_412_the_schedule_wins(
    radicale_server: RadicaleServer, uid: str
) -> None:
    doctor, cal, _ = setup(radicale_server, uid)
    appt = add_appointment(doctor, datetime.combine(next_monday(), time(11), BERLIN))
    publish(radicale_server, doctor)
    text, _ = radicale_server.get(f"{cal}{appt}.ics")
    edited = text.replace("SEQUENCE:0", "SEQUENCE:4").replace("SUMMARY:Appointment", "SUMMARY:Mine")
    radicale_server.put(f"{cal}{appt}.ics", edited)  # someone edits the remote copy
    move(appt, 15)  # and the schedule moves the appointment

    result = publish(radicale_server, doctor)
    assert result["overwrote_remote_edits"] == [f"{appt}@schedq"]
    # 412 on the stored ETag, refetch, overwrite with If-Match on the fresh ETag
    assert [c[0] for c in radicale_server.conditions] == ["PUT", "GET", "PUT"]
    assert radicale_server.conditions[0][2] != radicale_server.conditions[2][2]
    ev = remote_event(radicale_server, cal, appt)
    assert str(ev["SUMMARY"]) == "Appointment"
    assert int(ev["SEQUENCE"]) == 5  # above both sides' sequence
    _, remote_etag = radicale_server.get(f"{cal}{appt}.ics")
    assert exported(appt)["etag"] == remote_etag


def test_remote_deletion_is_recreated(radicale_server: RadicaleServer, uid: str) -> None:
    doctor, cal, _ = setup(radicale_server, uid)
    appt = add_appointment(doctor, datetime.combine(next_monday(), time(12), BERLIN))
    publish(radicale_server, doctor)
    radicale_server.delete(f"{cal}{appt}.ics")
    move(appt, 10)
    result = publish(radicale_server, doctor)
    assert result["recreated"] == [f"{appt}@schedq"]
    assert int(remote_event(radicale_server, cal, appt)["SEQUENCE"]) == 1


def test_both_link_does_not_import_its_own_appointments(
    radicale_server: RadicaleServer, uid: str
) -> None:
    doctor, _cal, link_id = setup(radicale_server, uid, direction="both")
    appt = add_appointment(doctor, datetime.combine(next_monday(), time(14), BERLIN))
    publish(radicale_server, doctor)
    outcome = run("sync_calendar", {"doctor_id": doctor, "link_id": link_id})
    assert outcome["changes"]["inserted"] == 0
    assert outcome["conflict_count"] == 0
    assert busy(link_id) == []
    assert exported(appt)["uid"] == f"{appt}@schedq"  # the local record survives the full sync


def test_schedq_ics_prints_a_feed_with_only_the_opaque_reference(
    radicale_server: RadicaleServer, uid: str
) -> None:
    from typer.testing import CliRunner

    from schedq.cli.main import app

    doctor, _cal, _ = setup(radicale_server, uid)
    appt = add_appointment(doctor, datetime.combine(next_monday(), time(16), BERLIN))
    publish(radicale_server, doctor)
    move(appt, 5)
    publish(radicale_server, doctor)

    result = CliRunner().invoke(app, ["ics", doctor])
    assert result.exit_code == 0, result.output
    events = icalendar.Calendar.from_ical(result.stdout).walk("VEVENT")
    assert len(events) == 1
    ev = events[0]
    assert str(ev["UID"]) == f"{appt}@schedq"  # the same UID as the CalDAV export
    assert int(ev["SEQUENCE"]) == 1
    assert ev["DTSTART"].dt == datetime.combine(next_monday(), time(16, 5), BERLIN)
    assert set(ev.keys()) == {
        "UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "SUMMARY", "DESCRIPTION", "STATUS",
        "TRANSP",
    }  # fmt: skip
    assert str(ev["DESCRIPTION"]) == f"Patient reference: P-{appt.hex[:6]}"
    assert CliRunner().invoke(app, ["ics", f"nobody-{uid}"]).exit_code == 2
