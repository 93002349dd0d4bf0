"""A local store's site on disk: where it lives, who owns what, the secrets
and ``wp-config.php`` it is made with, and how its tree is built from the
verified releases — for a new store, a restore, a clone and an upgrade.

A store lives in ``<sites>/stores/<store uid>/`` (see Settings.sites_path):

    .              root:<store gid> 0751  — nginx's workers pass through it
    secrets.json   root 0600              — database password and WordPress salts
    php-fpm.conf   root:<store gid> 0440  — its pool (fpm.py)
    run/, logs/    <store uid>            — php-fpm's socket and pid, logs (fpm.py)
    site/          root 0755              — WordPress core, hard links to the
                                            verified release: read-only to the store
      wp-config.php  root:<store gid> 0440
      wp-content/    <store uid>:<web gid> 2750 — themes, plugins (WooCommerce
                                            linked from its release), uploads: the
                                            store's own; nginx reads them through
                                            the group, no other store can
    mail/          <store uid> 0700       — the store's outgoing mail (mailbox.py)
    tmp/           <store uid> 0700       — PHP's temporary files

So a store can read nothing of another store or of the platform (whose data
directory is 0700), and cannot change the code it runs. When the platform does
not run as root it cannot switch uids: stores then run as its user, and the
timeline says that they are not isolated.

A restore or an upgrade builds a new site tree beside the old one and swaps
it in (:meth:`StoreSites.assemble`); backups keep the store's own files under
wp-content, not the release files linked into it (sitefiles.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from storefleet import releases
from storefleet.backups import archive
from storefleet.config import Settings
from storefleet.drivers.base import PermanentError, StepContext, StepOutcome, StoreSnapshot
from storefleet.drivers.local import sitefiles
from storefleet.drivers.local.accounts import StoreAccounts
from storefleet.drivers.storedb import StoreDatabases
from storefleet.drivers.wordpress import SALTS, new_site_secrets
from storefleet.names import require_valid_store_uid

# Core files the store never needs: the sample config (a template) and the
# release's own wp-content (the store gets a copy of its themes and plugins).
_NOT_CORE = {"wp-config.php", "wp-config-sample.php", ".htaccess", "wp-content"}

Owner = tuple[int, int]


def php_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def write_file(path: Path, content: str, mode: int, owner: Owner | None) -> None:
    """Write a file atomically with its final mode and owner."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(content)
    if owner is not None:
        os.chown(tmp, *owner)
    os.chmod(tmp, mode)
    tmp.replace(path)


def _link_file(src: str | Path, dst: str | Path) -> None:
    """A hard link to a release file, or a copy where links cannot reach
    (another filesystem). Either stays owned by root, read-only to stores."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _link_tree(src: Path, dst: Path) -> None:
    """``dst`` as a tree of hard links to ``src``'s files (see _link_file)."""
    shutil.copytree(src, dst, copy_function=_link_file, symlinks=False)


def build_site(wordpress: Path, woocommerce: Path, dst: Path) -> None:
    """A new site tree at ``dst``: core and the release's themes and plugins
    linked from their verified releases, empty directories of the store's own."""
    dst.mkdir()
    dst.chmod(0o755)
    for entry in wordpress.iterdir():
        if entry.name in _NOT_CORE:
            continue
        if entry.is_dir():
            _link_tree(entry, dst / entry.name)
        elif not (dst / entry.name).exists():
            _link_file(entry, dst / entry.name)
    content = dst / "wp-content"
    content.mkdir()
    _link_tree(wordpress / "wp-content" / "themes", content / "themes")
    _link_tree(wordpress / "wp-content" / "plugins", content / "plugins")
    _link_tree(woocommerce, content / "plugins" / "woocommerce")
    for name in ("uploads", "mu-plugins", "upgrade"):
        (content / name).mkdir()


class StoreSites:
    """Local stores' directories, owners, secrets and site trees."""

    def __init__(
        self,
        settings: Settings,
        databases: StoreDatabases,
        release_cache: releases.ReleaseCache,
        accounts: StoreAccounts,
        *,
        isolated: bool,
        web_gid: int | None,
    ) -> None:
        self.settings = settings
        self.databases = databases
        self.releases = release_cache
        self.accounts = accounts
        self.isolated = isolated
        self.web_gid = web_gid
        db_url = urlsplit(settings.stores_db_url or "mysql://127.0.0.1:3306/")
        self._db_host = f"{db_url.hostname or '127.0.0.1'}:{db_url.port or 3306}"

    # -- paths and owners ---------------------------------------------------

    def store_dir(self, store: StoreSnapshot) -> Path:
        return self.settings.stores_path / require_valid_store_uid(store.uid)

    def site(self, store: StoreSnapshot) -> Path:
        return self.store_dir(store) / "site"

    def log(self, store: StoreSnapshot) -> Path:
        return self.store_dir(store) / "php.log"

    def prepare(self) -> None:
        """The sites directory: stores may pass through it, not list it."""
        for path in (self.settings.sites_path, self.settings.stores_path):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o711)
        if self.isolated:
            # Every directory above must let the stores' uids pass too.
            for parent in self.settings.sites_path.parents:
                if parent.stat().st_mode & 0o001 == 0:
                    raise PermanentError(
                        f"local stores run under their own uids and cannot enter {parent} "
                        f"(mode {parent.stat().st_mode & 0o777:o}); set STOREFLEET_SITES_DIR to a "
                        "directory outside it, e.g. /var/lib/storefleet"
                    )

    def owner(self, store: StoreSnapshot) -> Owner | None:
        """(uid, gid) the store's processes run as; None when not isolated."""
        if not self.isolated:
            return None
        n = self.accounts.find(store.uid)
        if n is None:
            raise PermanentError("the store has no uid (the files step did not run)")
        return n, n

    def content_owner(self, store: StoreSnapshot) -> Owner | None:
        """(uid, gid) of the store's wp-content: the store, and the web
        server's group (nginx serves its static files); None when not isolated."""
        owner = self.owner(store)
        if owner is None:
            return None
        return owner[0], self.web_gid if self.web_gid is not None else owner[1]

    def release(self, product: releases.Product, version: str | None) -> Path:
        try:
            return self.releases.fetch(releases.pinned(product, version))
        except releases.ReleaseError as exc:
            raise PermanentError(str(exc)) from exc

    def releases_of(self, wordpress: str | None, woocommerce: str | None) -> sitefiles.Releases:
        return sitefiles.Releases(
            self.release("wordpress", wordpress), self.release("woocommerce", woocommerce)
        )

    # -- secrets ----------------------------------------------------------------

    def secrets_step(self, ctx: StepContext) -> StepOutcome:
        self.prepare()
        path = self.store_dir(ctx.store) / "secrets.json"
        if path.exists():
            return StepOutcome("kept the existing secrets")
        path.parent.mkdir(mode=0o700, exist_ok=True)
        write_file(path, json.dumps(new_site_secrets()), 0o600, None)
        return StepOutcome("generated the database password and WordPress salts")

    def load_secrets(self, store: StoreSnapshot) -> dict[str, str]:
        path = self.store_dir(store) / "secrets.json"
        try:
            data: dict[str, str] = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise PermanentError(f"the store's secrets file {path} is missing") from exc
        return data

    def db_password(self, store: StoreSnapshot) -> str:
        return self.load_secrets(store)["db_password"]

    # -- building the site ------------------------------------------------------

    def files_step(self, ctx: StepContext) -> StepOutcome:
        store = ctx.store
        wordpress = self.release("wordpress", store.wordpress_version)
        woocommerce = self.release("woocommerce", store.woocommerce_version)
        home = self.store_dir(store)
        owner: Owner | None = None
        if self.isolated:
            n = self.accounts.claim(store.uid)
            owner = (n, n)
            os.chown(home, 0, n)
            # Others (nginx's workers; other stores too) may pass, not list:
            # what lies inside has modes of its own (secrets root 0600,
            # wp-config root:<store> 0440, wp-content <store>:<web> 2750).
            home.chmod(0o751)
        site = home / "site"
        if not (site / "wp-settings.php").is_file():
            tmp = home / f"site.tmp-{secrets.token_hex(4)}"
            build_site(wordpress, woocommerce, tmp)
            content_owner = self.content_owner(store)
            if content_owner is not None:
                sitefiles.own_tree(
                    tmp / "wp-content", content_owner, sitefiles.Releases(wordpress, woocommerce)
                )
            if site.exists():
                shutil.rmtree(site)
            tmp.rename(site)
        for name in ("mail", "tmp"):
            (home / name).mkdir(mode=0o700, exist_ok=True)
            if owner is not None:
                os.chown(home / name, *owner)
        self.write_wp_config(store, site, owner)
        who = f"uid {owner[0]}" if owner else f"uid {os.geteuid()} (not isolated)"
        return StepOutcome(
            f"WordPress {store.wordpress_version} and WooCommerce {store.woocommerce_version} "
            f"in {site}, run as {who}"
        )

    def write_wp_config(self, store: StoreSnapshot, site: Path, owner: Owner | None) -> None:
        if store.url is None:
            raise PermanentError("the store has no URL yet (the endpoint step did not run)")
        sec = self.load_secrets(store)
        n = self.databases.names(store.uid)
        url = store.url.rstrip("/")
        home = self.store_dir(store)
        lines = [
            "<?php",
            f"// Written by StoreFleet for store {store.uid}; rewritten on re-provisioning.",
            f"define('DB_NAME', {php_string(n.database)});",
            f"define('DB_USER', {php_string(n.user)});",
            f"define('DB_PASSWORD', {php_string(sec['db_password'])});",
            f"define('DB_HOST', {php_string(self._db_host)});",
            "define('DB_CHARSET', 'utf8mb4');",
            "define('DB_COLLATE', '');",
            *(f"define('{salt}', {php_string(sec[salt])});" for salt in SALTS),
            f"$table_prefix = {php_string(n.table_prefix)};",
            f"define('WP_HOME', {php_string(url)});",
            f"define('WP_SITEURL', {php_string(url)});",
            f"define('WP_TEMP_DIR', {php_string(str(home / 'tmp'))});",
            f"define('STOREFLEET_MAILBOX', {php_string(str(home / 'mail'))});",
            # No calls out to the internet (none is reachable from many hosts,
            # and each would stall a page). Cron runs from the platform, not
            # over loopback HTTP on page views. The platform owns the core
            # files: no self-updates, no code editor.
            "define('WP_HTTP_BLOCK_EXTERNAL', true);",
            "define('DISABLE_WP_CRON', true);",
            "define('AUTOMATIC_UPDATER_DISABLED', true);",
            "define('WP_AUTO_UPDATE_CORE', false);",
            "define('DISALLOW_FILE_EDIT', true);",
            "define('FS_METHOD', 'direct');",
            "if (!defined('ABSPATH')) { define('ABSPATH', __DIR__ . '/'); }",
            "require_once ABSPATH . 'wp-settings.php';",
            "",
        ]
        group = (0, owner[1]) if owner else None
        write_file(site / "wp-config.php", "\n".join(lines), 0o440 if owner else 0o600, group)

    def assemble(
        self,
        store: StoreSnapshot,
        wordpress: str,
        woocommerce: str,
        fill: Callable[[Path], dict[str, int]],
    ) -> dict[str, int]:
        """A new site tree at these releases beside the current one, filled
        with the store's own files by ``fill``, then swapped in."""
        releases_ = self.releases_of(wordpress, woocommerce)
        home = self.store_dir(store)
        owner = self.owner(store)
        token = secrets.token_hex(4)
        tmp = home / f"site.tmp-{token}"
        build_site(releases_.wordpress, releases_.woocommerce, tmp)
        built = False
        try:
            info = fill(tmp / "wp-content")
            content_owner = self.content_owner(store)
            if content_owner is not None:
                sitefiles.own_tree(tmp / "wp-content", content_owner, releases_)
            self.write_wp_config(store, tmp, owner)
            built = True
        finally:
            if not built:  # whatever stopped it: no half-built site stays behind
                shutil.rmtree(tmp, ignore_errors=True)
        site = self.site(store)
        old = home / f"site.old-{token}"
        if site.exists():
            site.rename(old)
        tmp.rename(site)
        shutil.rmtree(old, ignore_errors=True)
        for leftover in home.glob("site.*-*"):  # from an attempt cut short
            shutil.rmtree(leftover, ignore_errors=True)
        return info

    def remove_step(self, ctx: StepContext) -> StepOutcome:
        path = self.store_dir(ctx.store)
        removed = path.exists()
        if removed:
            shutil.rmtree(path)
        self.accounts.release(ctx.store.uid)
        return StepOutcome(f"removed {path}" if removed else "no files were left")

    # -- day-2: the store's own files ------------------------------------------

    def backup_files_step(self, ctx: StepContext) -> StepOutcome:
        content = self.site(ctx.store) / "wp-content"
        if not content.is_dir():
            raise PermanentError(f"the store has no files at {content}")
        releases_ = self.releases_of(ctx.store.wordpress_version, ctx.store.woocommerce_version)
        info = sitefiles.archive(content, releases_, ctx.workdir / archive.FILES)
        return StepOutcome(
            f"{info['files']} files of the store's own ({info['bytes'] / 1024:.0f} KiB); "
            "release files are linked again on restore",
            facts={"files": info},
        )

    def restore_files_step(self, ctx: StepContext) -> StepOutcome:
        manifest = _manifest(ctx)
        wordpress, woocommerce = manifest["wordpress_version"], manifest["woocommerce_version"]
        files = ctx.workdir / archive.FILES
        info = self.assemble(
            ctx.store, wordpress, woocommerce,
            lambda content: sitefiles.overlay(content, files, ctx.workdir),
        )  # fmt: skip
        ctx.record(wordpress_version=wordpress, woocommerce_version=woocommerce)
        return StepOutcome(
            f"WordPress {wordpress} and WooCommerce {woocommerce} linked again; "
            f"{info['files']} of the store's own files put back"
        )

    def clone_content_step(self, ctx: StepContext) -> StepOutcome:
        content = self.site(ctx.store) / "wp-content"
        if not content.is_dir():
            raise PermanentError("the store has no site yet (the files step did not run)")
        info = sitefiles.overlay(content, ctx.workdir / archive.FILES, ctx.workdir)
        owner = self.content_owner(ctx.store)
        if owner is not None:
            store = ctx.store
            releases_ = self.releases_of(store.wordpress_version, store.woocommerce_version)
            sitefiles.own_tree(content, owner, releases_)
        return StepOutcome(f"{info['files']} files from the backup")

    def push_files_step(self, ctx: StepContext) -> StepOutcome:
        """The staging copy's own files (``params['staging']``) become this
        store's, at the copy's releases: archived from the copy and unpacked
        into a new site tree (copies: never a link into the copy's files),
        swapped in at once."""
        staging = ctx.operation.params.get("staging")
        if not isinstance(staging, dict) or not staging.get("uid"):
            raise PermanentError("the operation names no staging copy")
        wordpress, woocommerce = staging["wordpress_version"], staging["woocommerce_version"]
        source = self.settings.stores_path / require_valid_store_uid(staging["uid"]) / "site"
        if not (source / "wp-content").is_dir():
            raise PermanentError(f"the staging copy has no files at {source}")
        files = ctx.workdir / "staging-wp-content.tar.gz"
        sitefiles.archive(source / "wp-content", self.releases_of(wordpress, woocommerce), files)
        info = self.assemble(
            ctx.store, wordpress, woocommerce,
            lambda content: sitefiles.overlay(content, files, ctx.workdir),
        )  # fmt: skip
        files.unlink(missing_ok=True)
        ctx.record(wordpress_version=wordpress, woocommerce_version=woocommerce)
        return StepOutcome(
            f"{info['files']} of the staging copy's own files in place of the store's "
            f"(WordPress {wordpress}, WooCommerce {woocommerce})"
        )

    def upgrade_files_step(self, ctx: StepContext) -> StepOutcome:
        params = ctx.operation.params
        wordpress, woocommerce = str(params["wordpress"]), str(params["woocommerce"])
        old = self.releases_of(ctx.store.wordpress_version, ctx.store.woocommerce_version)
        current = self.site(ctx.store) / "wp-content"
        info = self.assemble(
            ctx.store, wordpress, woocommerce,
            lambda content: sitefiles.carry_over(current, old, content),
        )  # fmt: skip
        ctx.record(wordpress_version=wordpress, woocommerce_version=woocommerce)
        return StepOutcome(
            f"WordPress {wordpress} and WooCommerce {woocommerce} linked from their verified "
            f"releases; {info['files']} of the store's own files carried over"
        )


def _manifest(ctx: StepContext) -> dict[str, Any]:
    path = ctx.workdir / archive.MANIFEST
    try:
        manifest: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise PermanentError("the backup was not fetched (no manifest)") from exc
    return manifest
