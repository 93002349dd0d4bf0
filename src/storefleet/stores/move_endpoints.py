"""HTTP endpoints that move a store between platforms: a backup to export,
a backup streamed as a portable archive under a passphrase, and a store
imported from one (stores/moves.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.responses import StreamingResponse
from pydantic import EmailStr

from storefleet.backups.schemas import BackupOut
from storefleet.deps import (
    ClientIP,
    CurrentUser,
    RuntimeDep,
    SessionDep,
    StoreId,
    own_transactions,
)
from storefleet.exceptions import ERROR_RESPONSES
from storefleet.stores import moves, service
from storefleet.stores.schemas import PASSPHRASE_RULE, ExportRequest, StoreCreated

router = APIRouter(
    prefix="/api/stores",
    tags=["stores"],
    responses={401: ERROR_RESPONSES[401], 404: ERROR_RESPONSES[404]},
)

_ARCHIVE = {
    "description": "The archive (application/octet-stream), streamed",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}


@router.post(
    "/import",
    response_model=StoreCreated,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        403: ERROR_RESPONSES[403],
        409: ERROR_RESPONSES[409],
        429: ERROR_RESPONSES[429],
        503: ERROR_RESPONSES[503],
    },
)
@own_transactions
def import_store(
    archive: Annotated[
        UploadFile, File(description="An archive made by `storefleet stores export`")
    ],
    passphrase: Annotated[
        str,
        Form(min_length=12, max_length=1024, description=f"Its passphrase ({PASSPHRASE_RULE})"),
    ],
    user: CurrentUser,
    runtime: RuntimeDep,
    ip: ClientIP,
    owner_email: Annotated[
        EmailStr | None,
        Form(description="The user who will own the store (admins only; default: you)"),
    ] = None,
    name: Annotated[
        str | None, Form(max_length=40, description="Its name here (default: the archive's)")
    ] = None,
    admin_email: Annotated[
        EmailStr | None,
        Form(description="The WordPress admin's email (default: the archive's)"),
    ] = None,
    plan: Annotated[
        str | None, Form(max_length=32, description="Its plan (default: the archive's)")
    ] = None,
) -> StoreCreated:
    """Create a store from an archive of another platform's (or this one's):
    a new uid, database, salts and admin password (returned here, once), on
    this platform's driver and releases, at its address, with the archive's
    orders, customers, products and files. A wrong passphrase or a damaged
    archive is refused (422) and nothing is created. Provisioning runs in the
    background: watch ``status``."""
    request = moves.ImportRequest(
        passphrase=passphrase, owner_email=owner_email, name=name,
        admin_email=admin_email, plan=plan,
    )  # fmt: skip
    store, generated = moves.import_store(runtime, user, archive.file, request, client_ip=ip)
    out = service.to_out(store, None)
    return StoreCreated(**out.model_dump(), admin_password=generated)


@router.post(
    "/{store_id}/exports",
    response_model=BackupOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={409: ERROR_RESPONSES[409]},
)
def create_export(
    store_id: StoreId, user: CurrentUser, session: SessionDep, runtime: RuntimeDep, ip: ClientIP
) -> BackupOut:
    """Take a backup to export now (an operation, like any backup); once it
    is completed, ``POST …/backups/{backup_id}/archive`` streams it."""
    backup = moves.request_export(session, runtime, user, store_id, client_ip=ip)
    return BackupOut.model_validate(backup)


@router.post(
    "/{store_id}/backups/{backup_id}/archive",
    response_class=StreamingResponse,
    responses={200: _ARCHIVE, 409: ERROR_RESPONSES[409], 503: ERROR_RESPONSES[503]},
)
@own_transactions
def export_archive(
    store_id: StoreId,
    backup_id: StoreId,
    body: ExportRequest,
    user: CurrentUser,
    session: SessionDep,
    runtime: RuntimeDep,
    ip: ClientIP,
) -> StreamingResponse:
    """One of the store's completed backups as a portable archive, encrypted
    under the passphrase given here instead of this platform's backup key
    (which never leaves it): what ``POST /api/stores/import`` of any
    platform takes. Audited; the passphrase is kept nowhere."""
    export = moves.export_archive(
        runtime, session, user, store_id, backup_id, body.passphrase, client_ip=ip
    )
    return StreamingResponse(
        export.chunks,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )
