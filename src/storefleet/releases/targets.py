"""The WordPress and WooCommerce releases new stores get: the platform
database's ``platform_releases``, or the pins' ``current`` until a fleet
upgrade moves them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storefleet import releases
from storefleet.db import utcnow
from storefleet.releases.models import PlatformRelease


def current(session: Session) -> dict[str, str]:
    targets: dict[str, str] = {str(k): v for k, v in releases.current().items()}
    for row in session.scalars(select(PlatformRelease)).all():
        targets[row.product] = row.version
    return targets


def set_targets(session: Session, targets: dict[str, str], by: str) -> None:
    for product, version in targets.items():
        row = session.get(PlatformRelease, product)
        if row is None:
            session.add(
                PlatformRelease(
                    product=product, version=version, updated_at=utcnow(), updated_by=by
                )
            )
        else:
            row.version = version
            row.updated_at = utcnow()
            row.updated_by = by
    session.flush()
