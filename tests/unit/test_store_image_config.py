"""The store image's nginx and php-fpm configuration (images/store/render_serving.py),
rendered from the serving templates both drivers share, before any image is
built: Debian's nginx accepts it, it keeps the shopper's Host and scheme, and
its numbers are the platform's defaults and the plan's, from the pod's
environment. (tests/k8s runs the built image on the real node.)"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from storefleet.config import Settings
from tests.conftest import free_port, unavailable

REPO = Path(__file__).resolve().parents[2]
RENDERER = REPO / "images" / "store" / "render_serving.py"


def _renderer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_serving", RENDERER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_image_serves_with_the_platforms_defaults_and_the_plans_numbers():
    renderer = _renderer()
    defaults = Settings.model_fields
    assert renderer.PAGE_CACHE_SECONDS == defaults["page_cache_seconds"].default
    assert renderer.PHP_IDLE_SECONDS == defaults["php_idle_seconds"].default
    files = renderer.render()
    nginx, fpm = files["etc/nginx/nginx.conf"], files["etc/php/8.2/fpm/php-fpm.conf"]
    # The page cache's rules and a store's locations are the local driver's.
    assert "map $http_cookie $sf_cookie_bypass" in nginx
    assert f"fastcgi_cache_valid 200 301 302 404 {renderer.PAGE_CACHE_SECONDS}s;" in nginx
    assert "add_header X-StoreFleet-Cache $sf_cache_status always;" in nginx
    # The shopper's Host with its port, and the scheme the ingress says.
    assert "fastcgi_param HTTP_HOST $http_host;" in nginx
    assert "map $http_x_forwarded_proto $sf_scheme" in nginx
    assert 'fastcgi_cache_key "store|$sf_scheme|$host|' in nginx
    assert "absolute_redirect off;" in nginx
    # The pool: ondemand, its size and memory limit from the pod's environment.
    assert "pm = ondemand" in fpm
    assert "pm.max_children = ${STOREFLEET_PHP_WORKERS}" in fpm
    assert "php_admin_value[memory_limit] = ${STOREFLEET_PHP_MEMORY_LIMIT}" in fpm
    assert "clear_env = no" in fpm
    assert "opcache.memory_consumption" not in fpm  # the master's (storefleet.ini)
    ini = (REPO / "images/store/rootfs/etc/php/8.2/mods-available/storefleet.ini").read_text()
    assert "opcache.memory_consumption = ${STOREFLEET_OPCACHE_MB}" in ini


def test_debian_nginx_accepts_the_images_configuration(tmp_path):
    """nginx -t on the rendered file, its writable paths moved into tmp_path."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        unavailable("nginx (Debian's nginx-light) is not installed")
    text = _renderer().render()["etc/nginx/nginx.conf"]
    conf = tmp_path / "nginx.conf"
    text = text.replace("/var/cache/storefleet", str(tmp_path))
    conf.write_text(text.replace("listen 8080 ", f"listen 127.0.0.1:{free_port()} "))
    for name in ("run", "pages", "tmp"):  # what the entrypoint makes
        (tmp_path / name).mkdir()
    done = subprocess.run(
        [nginx, "-t", "-e", "stderr", "-c", str(conf)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr


def test_the_renderer_needs_only_jinja2(tmp_path):
    """The Dockerfile renders with Debian's python3-jinja2 alone: the script
    imports nothing of the platform but the serving package and the plans."""
    code = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('r', {str(RENDERER)!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "assert module.main(['r', sys.argv[1]]) == 0\n"
        "loaded = {n for n in sys.modules if n.split('.')[0] in"
        " ('storefleet', 'pydantic', 'pydantic_settings', 'sqlalchemy', 'httpx')}\n"
        "assert loaded == {'storefleet', 'storefleet.plans'}, sorted(loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "etc/nginx/nginx.conf").is_file()
    assert (tmp_path / "etc/php/8.2/fpm/php-fpm.conf").is_file()
