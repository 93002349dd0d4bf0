"""Moving a store from one platform to another — a one-machine platform
running the local driver and a cluster running the Kubernetes driver, either
way: its export as a portable archive, and its import as a new store.

- **Export** is a fresh backup (kind ``export``, an operation like any
  backup); then a completed backup of the store is streamed to its owner or
  an admin re-encrypted under their passphrase (``backups/portable.py``).
  The re-encryption happens here, in the API: the platform's backup key
  never leaves it, and the passphrase arrives only in the request's body
  and is kept nowhere.
- **Import** opens an archive with its passphrase and checks it, sealing it
  on the way under this platform's backup key into the backup target as the
  new store's first backup (kind ``import``); the store is then provisioned
  as a clone of that backup — ``fetch`` and the driver's
  ``provision_steps(clone=True)``: a new uid, database, salts and admin
  password, the archive's content adopted under this platform's address —
  at this platform's releases, whose database upgrades it runs. A wrong
  passphrase or a damaged archive is refused before any row or object is
  written.

The slow parts (Argon2id, decrypting, sealing, the copy into the target) run
outside the request's database transaction, which only reads (``deps.
own_transactions``); what is written is written in a short transaction of
its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from storefleet import releases
from storefleet.audit import service as audit
from storefleet.auth import repository as users
from storefleet.auth.models import User
from storefleet.backups import archive, portable
from storefleet.backups import repository as backups
from storefleet.backups import service as backups_service
from storefleet.backups.models import Backup, BackupKind, BackupStatus
from storefleet.backups.storage import BackupStorage, StorageError, backup_key, open_storage
from storefleet.checksums import file_sha256
from storefleet.config import Settings
from storefleet.db import utcnow
from storefleet.exceptions import Conflict, Forbidden, InvalidInput, NotFound, ServiceUnavailable
from storefleet.releases import targets as platform_releases
from storefleet.runtime import Runtime
from storefleet.stores import day2, quotas, repository, service
from storefleet.stores.models import Operation, Store
from storefleet.stores.schemas import StoreCreate


def request_export(
    session: Session, runtime: Runtime, user: User, store_id: int, *, client_ip: str
) -> Backup:
    """A backup to export, taken now."""
    return day2.take_backup(
        session, runtime, user, store_id, client_ip=client_ip, kind=BackupKind.export
    )


@dataclasses.dataclass(frozen=True)
class Export:
    filename: str
    chunks: Iterator[bytes]


def export_archive(
    runtime: Runtime,
    session: Session,
    user: User,
    store_id: int,
    backup_id: int,
    passphrase: str,
    *,
    client_ip: str,
) -> Export:
    """Backup ``backup_id`` of the store as a portable archive under
    ``passphrase``: fetched and its digest checked first (a 4xx or 5xx
    then), then streamed."""
    store = service.get_visible(session, user, store_id)
    backup = backups.get(session, backup_id)
    if backup is None or backup.store_id != store.id:
        raise NotFound("Backup not found (a store exports its own backups)")
    if backup.status != BackupStatus.completed or not backup.location or not backup.sha256:
        raise Conflict(f"Backup {backup.id} is {backup.status}: only a completed backup exports")
    settings = runtime.settings
    scratch = _scratch(runtime, "export")
    fetched = None
    try:
        fetched = _fetch(settings, backup, scratch)
    finally:
        if fetched is None:
            shutil.rmtree(scratch, ignore_errors=True)
    audit.record_apart(
        runtime.db,
        audit.entry(
            "store.export", actor=user, target=f"store:{store.id}", client_ip=client_ip,
            detail={"backup_id": backup.id},
        ),
    )  # fmt: skip
    filename = f"{store.name}-backup-{backup.id}{portable.SUFFIX}"
    return Export(filename, _streamed(fetched, backup_key(settings), passphrase, scratch))


def _fetch(settings: Settings, backup: Backup, scratch: Path) -> Path:
    target = scratch / "backup.sfb"
    try:
        open_storage(settings, backup.target).get(str(backup.location), target)
    except StorageError as exc:
        if exc.transient:
            raise _unavailable(exc) from exc
        raise Conflict(f"Backup {backup.id} cannot be fetched: {exc}") from exc
    digest = file_sha256(target)
    if digest != backup.sha256:
        raise Conflict(
            f"Backup {backup.id} does not match its recorded digest: it was changed or damaged "
            "in storage; refusing to export it"
        )
    try:
        archive.check_key(target, backup_key(settings))
    except archive.BackupError as exc:
        raise Conflict(f"Backup {backup.id} cannot be read: {exc}") from exc
    return target


def _streamed(source: Path, key: bytes, passphrase: str, scratch: Path) -> Iterator[bytes]:
    try:
        with source.open("rb") as f:
            yield from portable.export(f, key, passphrase)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# -- import ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImportRequest:
    passphrase: str
    owner_email: str | None = None
    name: str | None = None
    admin_email: str | None = None
    plan: str | None = None


def import_store(
    runtime: Runtime, user: User, upload: IO[bytes], req: ImportRequest, *, client_ip: str
) -> tuple[Store, str | None]:
    """A new store of this platform from an archive; returns it and its
    generated admin password (shown once)."""
    settings = runtime.settings
    scratch = _scratch(runtime, "import")
    try:
        sealed = scratch / "backup.sfb"
        try:
            with sealed.open("wb") as out:
                opened = portable.open_archive(upload, req.passphrase, out, backup_key(settings))
        except portable.ArchiveError as exc:
            raise InvalidInput(
                f"archive: {exc}",
                audit=audit.refused(
                    "store.import", actor=user, client_ip=client_ip,
                    detail={"refused": "wrong passphrase"
                            if isinstance(exc, portable.WrongPassphrase) else "archive"},
                ),
            ) from exc  # fmt: skip
        return _create(runtime, user, req, opened, sealed, client_ip)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _create(
    runtime: Runtime,
    user: User,
    req: ImportRequest,
    opened: portable.Opened,
    sealed: Path,
    client_ip: str,
) -> tuple[Store, str | None]:
    try:
        storage = open_storage(runtime.settings)
    except StorageError as exc:
        raise _unavailable(exc) from exc
    stored: str | None = None
    done = False
    try:
        with runtime.db.transaction() as session:
            actor = session.get(User, user.id)
            if actor is None:
                raise NotFound("User not found")
            owner = _owner(session, actor, req.owner_email)
            pins = platform_releases.current(session)
            manifest = opened.manifest
            _check_releases(manifest, pins)
            data = _store_create(runtime, actor, owner, req, manifest)
            quotas.admit(session, runtime.settings, actor, data.name, client_ip)
            password, generated = service.admin_password(data)
            store = service.new_store(
                session, runtime, actor, data, password, pins=pins, owner=owner
            )
            backup = backups.create(session, store, BackupKind.imported, requested_by=actor.email)
            stored = archive.object_name(store.uid, backup.id)
            try:
                storage.put(sealed, stored)
            except StorageError as exc:
                raise _unavailable(exc) from exc
            _complete(backup, storage, stored, opened)
            _provision(session, runtime, actor, store, backup, client_ip)
        done = True
        return store, generated
    finally:
        if stored is not None and not done:
            _forget(storage, stored)


def _owner(session: Session, actor: User, email: str | None) -> User:
    if email is None or email.lower() == actor.email.lower():
        return actor
    if not actor.is_admin:
        raise Forbidden("Only an admin may import a store for another user")
    owner = users.by_email(session, email)
    if owner is None or not owner.is_active:
        raise InvalidInput(
            f"owner_email: no active user {email} on this platform "
            f"(an admin creates one: storefleet users create {email})"
        )
    return owner


def _check_releases(manifest: dict[str, Any], pins: dict[str, str]) -> None:
    """Stores get this platform's releases, whose database upgrades they run;
    an archive of newer releases would be a downgrade, which neither
    WordPress nor WooCommerce supports."""
    for product, title in (("wordpress", "WordPress"), ("woocommerce", "WooCommerce")):
        had = manifest.get(f"{product}_version")
        if isinstance(had, str) and releases.version_key(had) > releases.version_key(pins[product]):
            raise InvalidInput(
                f"archive: it was taken on {title} {had}, newer than this platform's "
                f"{pins[product]}; move this platform to it first (a fleet upgrade, "
                "POST /api/fleet/upgrades), then import"
            )


def _store_create(
    runtime: Runtime, actor: User, owner: User, req: ImportRequest, manifest: dict[str, Any]
) -> StoreCreate:
    source = manifest.get("store")
    source = source if isinstance(source, dict) else {}
    plan = req.plan
    known = [p.name for p in runtime.settings.plan_list]
    if plan is None and source.get("plan") in known:
        allowed = actor.is_admin or source["plan"] in runtime.settings.member_plans
        plan = str(source["plan"]) if allowed else None
    try:
        return StoreCreate(
            name=req.name or str(source.get("name") or ""),
            admin_email=req.admin_email or source.get("admin_email") or owner.email,
            sample_products=False,  # its products are the archive's
            plan=plan,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "request"
        raise InvalidInput(
            f"{field}: {str(first.get('msg')).removeprefix('Value error, ')}"
        ) from exc


def _complete(
    backup: Backup, storage: BackupStorage, location: str, opened: portable.Opened
) -> None:
    manifest = opened.manifest
    backup.status = BackupStatus.completed.value
    backup.target = storage.name
    backup.location = location
    backup.sha256 = opened.sha256
    backup.size_bytes = opened.size
    backup.wordpress_version = _str(manifest.get("wordpress_version"))
    backup.woocommerce_version = _str(manifest.get("woocommerce_version"))
    backup.manifest = manifest
    backup.completed_at = utcnow()


def _provision(
    session: Session, runtime: Runtime, actor: User, store: Store, backup: Backup, client_ip: str
) -> None:
    op = repository.add_operation(
        session, store, Operation.provision, requested_by=actor.email,
        params={**backups_service.restore_params(backup), "imported": True},
    )  # fmt: skip
    backup.operation_id = op.id
    source = (backup.manifest or {}).get("store")
    source = source if isinstance(source, dict) else {}
    repository.add_event(
        session, store.id, "phase",
        f"Store imported by {actor.email} from an archive of {source.get('name')} "
        f"({source.get('url')}): WordPress {backup.wordpress_version}, WooCommerce "
        f"{backup.woocommerce_version} there; here it gets WordPress {store.wordpress_version} "
        f"and WooCommerce {store.woocommerce_version}",
    )  # fmt: skip
    audit.record(
        session, "store.import", actor=actor, target=f"store:{store.id}", client_ip=client_ip,
        detail={"name": store.name, "owner": store.owner and store.owner.email,
                "backup_id": backup.id,
                "source": {"name": source.get("name"), "url": source.get("url")}},
    )  # fmt: skip
    service.request_work(session, runtime, store)


def _forget(storage: BackupStorage, location: str) -> None:
    """An object put for a store whose row was not written is removed."""
    with contextlib.suppress(StorageError):
        storage.delete(location)


def _str(value: object) -> str | None:
    return str(value)[:16] if isinstance(value, str) else None


def _scratch(runtime: Runtime, what: str) -> Path:
    path = runtime.settings.work_path / f"{what}-{secrets.token_hex(8)}"
    path.mkdir(parents=True, mode=0o700)
    return path


def _unavailable(exc: StorageError) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"The backup target did not take or give the object: {exc}",
        retry_after=30 if exc.transient else 300,
    )
