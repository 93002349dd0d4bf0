"""Renders the store image's nginx and php-fpm configuration from the serving
templates both drivers share (src/storefleet/drivers/serving, docs/serving.md):
the same page cache rules, store locations and php-fpm pool as a local store,
with the paths of the image and the plan's numbers left as ``${...}`` for
php-fpm to read from the pod's environment (the store chart sets them from
the plan). Run when the image is built:

    python3 images/store/render_serving.py <root filesystem>

by images/store/image.sh (the checkout's .venv) and images/store/Dockerfile
(Debian's python3-jinja2: only Jinja2 is needed, so the serving package is
loaded from its file without the platform's other dependencies).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SRC = Path(__file__).resolve().parents[2] / "src"

#: STOREFLEET_PAGE_CACHE_SECONDS's and STOREFLEET_PHP_IDLE_SECONDS's defaults
#: (tests/unit/test_store_image_config.py holds them to the settings').
PAGE_CACHE_SECONDS = 5
PHP_IDLE_SECONDS = 10
#: The plan's numbers, from the pod's environment (the chart's store-config).
WORKERS = "${STOREFLEET_PHP_WORKERS}"
MEMORY_LIMIT = "${STOREFLEET_PHP_MEMORY_LIMIT}"
OPCACHE_MB = "${STOREFLEET_OPCACHE_MB}"
#: Where nginx and php-fpm write: an emptyDir in the chart (the root
#: filesystem is read-only), its run/ the socket and pid files, pages/ the
#: page cache, tmp/ nginx's buffers. (Not /run: mmdebstrap empties it.)
CACHE_DIR = "/var/cache/storefleet"
RUN_DIR = f"{CACHE_DIR}/run"
SOCKET = f"{RUN_DIR}/php.sock"
PORT = 8080
UPLOAD_MIB = 64


def _serving(src: Path) -> ModuleType:
    """storefleet.drivers.serving, without importing storefleet.drivers
    (whose __init__ needs the platform's settings and their dependencies)."""
    sys.path.insert(0, str(src))
    path = src / "storefleet" / "drivers" / "serving" / "__init__.py"
    spec = importlib.util.spec_from_file_location("storefleet_serving", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def render(src: Path = SRC) -> dict[str, str]:
    """The files, by their path in the image."""
    serving = _serving(src)
    nginx = serving.render(
        "nginx-store-image.conf.j2",
        workers=1,
        connections=1024,
        run_dir=RUN_DIR,
        temp_dir=f"{CACHE_DIR}/tmp",
        cache_dir=f"{CACHE_DIR}/pages",
        cache_zone="store",
        cache_keys_mib=4,
        cache_max_mib=64,
        mime_types="/etc/nginx/mime.types",
        listen=PORT,
        docroot="/var/www/html",
        ttl_seconds=PAGE_CACHE_SECONDS,
        upload_mib=UPLOAD_MIB,
        fastcgi_pass=f"unix:{SOCKET}",
        # The Host the shopper sent, with its port (http://<name>.localhost:30080/
        # on the test node): WordPress redirects to its address otherwise.
        http_host="$http_host",
        request_seconds=120,
        # A pod serves one store and its cache is the pod's own (an emptyDir):
        # no other store's pages, nor a deleted namesake's, are ever in it.
        cache_key_prefix="store",
        # The shopper's address as the ingress controller passes it on (the
        # access log's shape is the local driver's: access-log.conf.j2).
        log_client="$http_x_forwarded_for",
    )
    pool = serving.FpmPool(
        pid_file=f"{RUN_DIR}/php-fpm.pid",
        error_log="/proc/self/fd/2",
        listen=SOCKET,
        php_error_log="/proc/self/fd/2",
        sizing=serving.PhpSizing(
            workers=WORKERS, memory_limit=MEMORY_LIMIT, opcache_mib=OPCACHE_MB,
            upload_mib=UPLOAD_MIB,
        ),  # fmt: skip
        idle_seconds=PHP_IDLE_SECONDS,
        # wp-config.php reads the store's settings from the environment
        # (store-config, store-credentials): the pod's, and only its store's.
        clear_env=False,
        admin_values={
            "sys_temp_dir": "/tmp",
            "upload_tmp_dir": "/tmp",
            "session.save_path": "/tmp",
        },
    )
    return {
        "etc/nginx/nginx.conf": nginx,
        "etc/php/8.2/fpm/php-fpm.conf": serving.fpm_config(pool),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} <root filesystem>", file=sys.stderr)
        return 2
    root = Path(argv[1])
    for name, text in render().items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
