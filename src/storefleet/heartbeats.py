"""Heartbeats: background loops that must keep running say so in the platform
database, where a process that does not run them (the API's ``/readyz``) can
see how long ago each last did its work.

The reconciler runs inside the worker processes; the API cannot look at their
threads, but it can read the time of the last good sweep of any of them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storefleet.db import Base, Database, UTCDateTime, utcnow

RECONCILER = "reconciler"


class Heartbeat(Base):
    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    beat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    #: Which process beat last (a worker id), for the person reading it.
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)


def beat(db: Database, name: str, owner: str, at: dt.datetime | None = None) -> None:
    """Record that ``name`` did its work now (or ``at``). Every worker's
    reconciler beats the same row: the newest beat is what matters."""
    at = at or utcnow()
    with db.transaction() as session:
        changed = session.execute(
            update(Heartbeat)
            .where(Heartbeat.name == name)
            .values(beat_at=at, owner=owner[:128])
            .execution_options(synchronize_session=False)
        )
        if getattr(changed, "rowcount", 0) == 1:
            return
        try:
            with session.begin_nested():
                session.add(Heartbeat(name=name, beat_at=at, owner=owner[:128]))
        except IntegrityError:
            # Another worker made the row meanwhile: theirs is as fresh as ours.
            return


def last(session: Session, name: str) -> dt.datetime | None:
    return session.scalar(select(Heartbeat.beat_at).where(Heartbeat.name == name))
