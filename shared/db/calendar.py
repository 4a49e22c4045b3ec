"""Calendar links, imported busy time and the record of exported appointments.

A link's ``secret_ref`` names a :class:`CalendarCredential`: registered by an operator, bound
to one doctor and one origin, its secret encrypted at rest (``shared.crypto``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base

LINK_KINDS = ("caldav", "ics")
DIRECTIONS = ("import", "export", "both")


class CalendarLink(Base):
    __tablename__ = "calendar_links"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    doctor_id: Mapped[str] = mapped_column(String(64), ForeignKey("doctors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))
    url: Mapped[str] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(200))
    secret_ref: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    # Import validators: CalDAV sync-token; ICS ETag / Last-Modified and a hash of the body.
    sync_token: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # End of the window recurring events were last expanded over: unchanged sources are
    # expanded again once it falls behind (a weekly meeting keeps producing instances).
    expanded_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Last time a sync found new content and applied it (an unchanged feed writes nothing).
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("kind IN ('caldav','ics')", name="kind_known"),
        CheckConstraint("direction IN ('import','export','both')", name="direction_known"),
        # A plain feed can only be read.
        CheckConstraint("kind = 'caldav' OR direction = 'import'", name="ics_import_only"),
        CheckConstraint("secret_ref IS NULL OR secret_ref ~ '^[A-Za-z0-9_]+$'", name="secret_ref"),
        UniqueConstraint("doctor_id", "url"),
    )


class CalendarCredential(Base):
    """A provider credential: usable only by links of ``doctor_id`` to exactly ``origin``."""

    __tablename__ = "calendar_credentials"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    doctor_id: Mapped[str] = mapped_column(String(64), ForeignKey("doctors.id", ondelete="CASCADE"))
    # scheme://host:port, normalised by shared.domain.origins.origin_of
    origin: Mapped[str] = mapped_column(Text)
    username: Mapped[str | None] = mapped_column(String(200))
    # A Fernet token (shared.crypto); the plaintext never touches the database.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("name ~ '^[A-Za-z0-9_]+$'", name="name_shape"),
        CheckConstraint("origin ~ '^https?://[^/]+:[0-9]+$'", name="origin_shape"),
    )


class ExternalBusy(Base):
    """One busy instance from an external calendar; ``recurrence_id`` is '' for single events."""

    __tablename__ = "external_busy"

    link_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_links.id", ondelete="CASCADE"), primary_key=True
    )
    uid: Mapped[str] = mapped_column(Text, primary_key=True)
    recurrence_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # CalDAV resource the instance came from (deletions arrive by href); None for ICS feeds.
    source_href: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_external_busy_link_range", "link_id", "starts_at", "ends_at"),
        Index("ix_external_busy_link_href", "link_id", "source_href"),
    )


class ExpandedSeries(Base):
    """A feed's recurring series as last expanded, under the hash of what produced it.

    A later sync of a changed feed reuses the instances of every series whose hash is the
    same, instead of expanding it again (``shared.domain.ical_series``). Holds nothing that
    ``external_busy`` does not: UIDs and times.
    """

    __tablename__ = "expanded_series"

    link_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_links.id", ondelete="CASCADE"), primary_key=True
    )
    uid: Mapped[str] = mapped_column(Text, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    # Instances the library produced, cancelled and transparent ones included (the cap counts
    # them); ``instances`` holds the busy ones as [recurrence_id, starts_at, ends_at].
    occurrences: Mapped[int] = mapped_column(Integer)
    instances: Mapped[list[Any]] = mapped_column(JSONB)

    __table_args__ = (
        CheckConstraint("digest ~ '^[0-9a-f]{64}$'", name="digest_shape"),
        CheckConstraint("occurrences >= 0", name="occurrences_not_negative"),
        CheckConstraint("jsonb_typeof(instances) = 'array'", name="instances_array"),
    )


class ExportedEvent(Base):
    """An appointment written to a CalDAV collection: stable UID, SEQUENCE and last ETag."""

    __tablename__ = "exported_events"

    appointment_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("appointments.id", ondelete="CASCADE"), primary_key=True
    )
    link_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("calendar_links.id", ondelete="CASCADE"), primary_key=True
    )
    uid: Mapped[str] = mapped_column(String(200))
    href: Mapped[str] = mapped_column(Text)
    sequence: Mapped[int] = mapped_column(Integer, server_default="0")
    etag: Mapped[str | None] = mapped_column(Text)
    # Hash of what we last sent: an unchanged appointment is not sent again.
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint("sequence >= 0", name="sequence_positive"),
        UniqueConstraint("link_id", "uid"),
    )
