"""The unit of work: one transaction per use, rolled back unless committed, callbacks only after
a commit, loaded rows still readable after it, and the engine it is given is the one it uses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, select, text

from shared.db.schedule import Doctor
from shared.db.uow import UnitOfWork
from shared.settings import get_settings

pytestmark = pytest.mark.usefixtures("database_url")


@pytest.fixture
def tagged_engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(database_url, connect_args={"application_name": "uow-test-engine"})
    yield engine
    engine.dispose()


def _doctor_exists(doctor_id: str) -> bool:
    with UnitOfWork() as uow:
        return uow.session.scalar(select(Doctor.id).where(Doctor.id == doctor_id)) is not None


def _add_doctor(uow: UnitOfWork, doctor_id: str) -> Doctor:
    doctor = Doctor(id=doctor_id, time_zone="UTC")
    uow.session.add(doctor)
    uow.session.flush()
    return doctor


def test_nothing_is_kept_without_commit_and_callbacks_wait_for_it(uid: str) -> None:
    ran: list[str] = []
    with UnitOfWork() as uow:
        _add_doctor(uow, f"uow-rb-{uid}")
        uow.after_commit(lambda: ran.append("rolled back"))
    assert not _doctor_exists(f"uow-rb-{uid}") and ran == []

    with pytest.raises(RuntimeError), UnitOfWork() as uow:
        _add_doctor(uow, f"uow-err-{uid}")
        uow.after_commit(lambda: ran.append("failed"))
        raise RuntimeError("the work failed before its commit")
    assert not _doctor_exists(f"uow-err-{uid}") and ran == []

    with UnitOfWork() as uow:
        _add_doctor(uow, f"uow-ok-{uid}")
        uow.after_commit(lambda: ran.append(f"committed: {_doctor_exists(f'uow-ok-{uid}')}"))
        assert ran == []
        uow.commit()
        assert ran == ["committed: True"]  # run once the row is visible to others
        uow.commit()  # a second commit does not run the callbacks again
    assert ran == ["committed: True"]


def test_rows_loaded_in_the_unit_stay_readable_after_it(uid: str) -> None:
    with UnitOfWork() as uow:
        doctor = _add_doctor(uow, f"uow-read-{uid}")
        uow.commit()
    # Not expired on commit: the values the unit saw are still there, with no session.
    assert (doctor.id, doctor.time_zone, doctor.schedule_version) == (f"uow-read-{uid}", "UTC", 0)


def test_the_engine_given_is_the_engine_used(tagged_engine: Engine) -> None:
    with UnitOfWork(tagged_engine) as uow:
        name = uow.session.scalar(text("SELECT current_setting('application_name')"))
    assert name == "uow-test-engine"
    with UnitOfWork() as uow:  # the default engine: the settings' database
        name = uow.session.scalar(text("SELECT current_setting('application_name')"))
        current = uow.session.scalar(text("SELECT current_database()"))
    assert name != "uow-test-engine"
    assert current == get_settings().database_url.rsplit("/", 1)[1]


def test_sql_sees_pending_orm_changes(uid: str) -> None:
    with UnitOfWork() as uow:
        uow.session.add(Doctor(id=f"uow-sql-{uid}", time_zone="UTC"))
        found = uow.sql("SELECT id FROM doctors WHERE id = %(id)s", {"id": f"uow-sql-{uid}"})
        assert found.scalar() == f"uow-sql-{uid}"  # flushed before the plain SQL ran
        count = uow.sql("SELECT count(*) FROM doctors WHERE id = 'none-" + uuid.uuid4().hex + "'")
        assert count.scalar() == 0  # no parameters: an empty mapping is sent
