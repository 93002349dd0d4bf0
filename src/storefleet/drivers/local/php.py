"""How a local store's programs start: inside the store's cgroups and as its
own uid (launch.py, run as root before anything of the store runs), with
the store's temporary directory — php-fpm, wp-cron and the installer alike.
The installer's local transport lives here: PHP as the store, in its site.

When the platform does not run as root it can neither switch uids nor make
cgroups: programs then run as the platform's user, unlimited, and the
store's timeline says so.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from storefleet.config import Settings
from storefleet.drivers.base import PermanentError, StepContext, StoreSnapshot, TransientError
from storefleet.drivers.installer import InstallerRun
from storefleet.drivers.local.cgroups import StoreCgroups
from storefleet.drivers.local.site import StoreSites
from storefleet.plans import find

#: The installer and its must-use plugins, as this package ships them.
INSTALLER = Path(__file__).resolve().parents[2] / "installer"
LAUNCHER = Path(__file__).resolve().parent / "launch.py"


def contained(
    cgroups: StoreCgroups | None, uid: str, owner: tuple[int, int] | None, *program: str
) -> list[str]:
    """``program`` started by launch.py inside the store's cgroups, as its
    ``owner``; as it is when the platform cannot switch uids (not root)."""
    if owner is None or cgroups is None:
        return list(program)
    joins = [arg for f in cgroups.procs_files(uid) for arg in ("--join", str(f))]
    return [
        sys.executable, "-I", str(LAUNCHER), *joins,
        "--uid", str(owner[0]), "--gid", str(owner[1]), "--umask", "027", "--", *program,
    ]  # fmt: skip


class StorePhp:
    def __init__(self, settings: Settings, sites: StoreSites, cgroups: StoreCgroups | None) -> None:
        self.settings = settings
        self.sites = sites
        self.cgroups = cgroups

    def contained(self, store: StoreSnapshot, *program: str) -> list[str]:
        """``program`` started in the store's cgroups, as the store."""
        owner = self.sites.owner(store)
        if owner is not None and self.cgroups is not None:
            files = self.cgroups.procs_files(store.uid)
            if not all(f.exists() for f in files):  # the installer runs before the server step
                try:
                    plan = find(self.settings.plan_list, store.plan)
                except ValueError as exc:
                    raise PermanentError(str(exc)) from exc
                self.cgroups.ensure(store.uid, plan)
        return contained(self.cgroups, store.uid, owner, *program)

    def command(self, store: StoreSnapshot, *args: str) -> list[str]:
        """The PHP command line (CLI) for this store: its temp dir, no opcache
        (a CLI run compiles for itself only)."""
        tmp = self.sites.store_dir(store) / "tmp"
        php = [
            self.settings.php_binary,
            "-d", "opcache.enable_cli=0",
            "-d", f"sys_temp_dir={tmp}",
            "-d", f"upload_tmp_dir={tmp}",
            "-d", f"session.save_path={tmp}",
            "-d", "memory_limit=256M",
            "-d", "display_errors=stderr",
            *args,
        ]  # fmt: skip
        return self.contained(store, *php)

    @staticmethod
    def env() -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}

    def installer_dir(self) -> Path:
        """The installer where stores' uids can read it: a copy under the
        sites directory, named by its content (the source tree may be in a
        home directory)."""
        digest = hashlib.sha256()
        files = sorted(p for p in INSTALLER.rglob("*") if p.is_file())
        for path in files:
            digest.update(path.relative_to(INSTALLER).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
        target = self.settings.sites_path / f"installer-{digest.hexdigest()[:12]}"
        if not target.is_dir():
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
            shutil.copytree(INSTALLER, tmp)
            for dirpath, _dirs, names in os.walk(tmp):
                os.chmod(dirpath, 0o755)  # noqa: S103 (public code)
                for name in names:
                    os.chmod(os.path.join(dirpath, name), 0o644)
            try:
                tmp.rename(target)
            except OSError:  # another worker made it meanwhile
                shutil.rmtree(tmp, ignore_errors=True)
        return target

    def run_installer(self, ctx: StepContext, request: str) -> InstallerRun:
        """The installer's transport: PHP as the store, in its cgroups and its site."""
        site = self.sites.site(ctx.store)
        script = self.installer_dir() / "storefleet-install.php"
        try:
            proc = subprocess.run(
                self.command(ctx.store, str(script), str(site)),
                input=request,
                capture_output=True,
                text=True,
                timeout=max(1.0, ctx.remaining()),
                cwd=site,
                env=self.env(),
                check=False,
                umask=0o077 if self.sites.owner(ctx.store) is None else -1,
            )
        except subprocess.TimeoutExpired as exc:
            raise TransientError("the installer did not finish in time") from exc
        except FileNotFoundError as exc:
            raise PermanentError(f"PHP ({self.settings.php_binary}) is not installed") from exc
        return InstallerRun(proc.stdout, proc.stderr, proc.returncode)
