"""HTTP endpoints of fleet upgrades (admins) and the fleet's summary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from storefleet.deps import AdminUser, ClientIP, CurrentUser, Offset, RuntimeDep, SessionDep
from storefleet.exceptions import ERROR_RESPONSES
from storefleet.fleet import service
from storefleet.fleet.schemas import (
    FleetSummary,
    FleetUpgradeCreate,
    FleetUpgradeOut,
    FleetUpgradePage,
    PlanOut,
    ReleasesOut,
)

router = APIRouter(
    prefix="/api/fleet",
    tags=["fleet"],
    responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]},
)

UpgradeId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.post(
    "/upgrades",
    response_model=FleetUpgradeOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409], 422: {"description": "Not a pinned release"}},
)
def create_fleet_upgrade(
    body: FleetUpgradeCreate,
    admin: AdminUser,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
) -> FleetUpgradeOut:
    """Move the fleet to pinned releases, in waves. New stores get them at
    once; each store is backed up, upgraded and must take a real order, or it
    is restored from its backup and the upgrade halts with the reason."""
    upgrade = service.create(session, runtime, admin, body, client_ip=ip)
    return service.to_out(session, upgrade)


@router.get("/upgrades", response_model=FleetUpgradePage)
def list_fleet_upgrades(
    _admin: AdminUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Offset = 0,
) -> FleetUpgradePage:
    rows, total = service.page(session, limit, offset)
    return FleetUpgradePage(items=[service.to_out(session, u) for u in rows], total=total)


@router.get(
    "/upgrades/{upgrade_id}", response_model=FleetUpgradeOut, responses={404: ERROR_RESPONSES[404]}
)
def get_fleet_upgrade(
    upgrade_id: UpgradeId, _admin: AdminUser, session: SessionDep
) -> FleetUpgradeOut:
    """A fleet upgrade's progress: each store's wave and step, and why it halted."""
    return service.to_out(session, service.get(session, upgrade_id))


@router.get("/releases", response_model=ReleasesOut)
def fleet_releases(_user: CurrentUser, session: SessionDep) -> ReleasesOut:
    """The releases new stores get, and every pinned release."""
    return service.releases_out(session)


@router.get("/plans", response_model=list[PlanOut])
def fleet_plans(user: CurrentUser, runtime: RuntimeDep) -> list[PlanOut]:
    """The plans a store may have, and which ones you may pick."""
    s = runtime.settings
    return [
        PlanOut(
            **plan.describe(),
            default=plan.name == s.default_plan,
            yours_to_pick=user.is_admin or plan.name in s.member_plans,
        )
        for plan in s.plan_list
    ]


@router.get("/summary", response_model=FleetSummary)
def fleet_summary(user: CurrentUser, session: SessionDep) -> FleetSummary:
    """Stores by phase and time from request to ready (p50, p95); members see
    their own stores, admins the whole fleet."""
    return service.summary(session, None if user.is_admin else user.id)
