"""PHP for local stores: the command line a store's PHP runs with (its own
temporary directory, its limits, opcache for servers), and the installer's
local transport — the installer run as the store's own uid, in its site.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
from pathlib import Path

from storefleet.config import Settings
from storefleet.drivers.base import PermanentError, StepContext, StoreSnapshot, TransientError
from storefleet.drivers.installer import InstallerRun
from storefleet.drivers.local.site import StoreSites

#: The installer and its must-use plugins, as this package ships them.
INSTALLER = Path(__file__).resolve().parents[2] / "installer"


class StorePhp:
    def __init__(self, settings: Settings, sites: StoreSites) -> None:
        self.settings = settings
        self.sites = sites

    def command(self, store: StoreSnapshot, *args: str, server: bool = False) -> list[str]:
        """The PHP command line for this store: its temp dir, and opcache for
        the server."""
        tmp = self.sites.store_dir(store) / "tmp"
        opcache = "1" if server and self.settings.php_opcache else "0"
        return [
            self.settings.php_binary,
            "-d", f"opcache.enable={opcache}",
            "-d", f"opcache.enable_cli={opcache}",
            "-d", f"sys_temp_dir={tmp}",
            "-d", f"upload_tmp_dir={tmp}",
            "-d", f"session.save_path={tmp}",
            "-d", "memory_limit=256M",
            "-d", "display_errors=stderr",
            *args,
        ]  # fmt: skip

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
        """The installer's transport: PHP as the store, in its site."""
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
                **self.sites.as_store(ctx.store),
            )
        except subprocess.TimeoutExpired as exc:
            raise TransientError("the installer did not finish in time") from exc
        except FileNotFoundError as exc:
            raise PermanentError(f"PHP ({self.settings.php_binary}) is not installed") from exc
        return InstallerRun(proc.stdout, proc.stderr, proc.returncode)
