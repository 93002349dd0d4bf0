"""How stores are served, on both drivers, from one set of templates
(docs/serving.md): nginx in front with a WooCommerce-aware page cache, and a
php-fpm pool per store (``pm = ondemand``: no PHP worker while the store is
idle) sized from the store's plan.

The local driver renders these per store (its one nginx routes by Host);
the store image renders them once at build time, with the plan's numbers
left as ``${...}`` for php-fpm to read from the pod's environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from storefleet.plans import Plan

TEMPLATES = Path(__file__).resolve().parent / "templates"
UNAVAILABLE_PAGE = TEMPLATES / "unavailable.html"

_jinja = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,  # noqa: S701 (configuration files, not HTML)
)


@dataclass(frozen=True)
class PageCache:
    """The page cache a store's locations use: its zone, how long a page is
    kept, and what keeps one store's pages from another's."""

    zone: str
    ttl_seconds: int
    key_prefix: str


@dataclass(frozen=True)
class PhpSizing:
    """What the php-fpm pool may do: numbers, or ``${VAR}`` for php-fpm to
    read from its environment (the store chart's values)."""

    workers: str
    memory_limit: str
    opcache_mib: str
    upload_mib: int = 64

    @classmethod
    def of(cls, plan: Plan) -> PhpSizing:
        return cls(
            workers=str(plan.php_workers),
            memory_limit=f"{plan.php_memory_mib}M",
            opcache_mib=str(plan.opcache_mib),
            upload_mib=plan.upload_mib,
        )


@dataclass(frozen=True)
class FpmPool:
    pid_file: str
    error_log: str
    listen: str
    php_error_log: str
    sizing: PhpSizing
    idle_seconds: int
    request_seconds: int = 120
    listen_mode: str | None = "0660"
    clear_env: bool = True
    env: dict[str, str] = field(default_factory=dict)
    admin_values: dict[str, str] = field(default_factory=dict)


def page_cache_rules(ttl_seconds: int) -> str:
    """The http-level rules of the page cache (maps: what bypasses it)."""
    return _jinja.get_template("page-cache.conf.j2").render(ttl_seconds=ttl_seconds)


def fpm_config(pool: FpmPool) -> str:
    s = pool.sizing
    return _jinja.get_template("php-fpm.conf.j2").render(
        pid_file=pool.pid_file,
        error_log=pool.error_log,
        listen=pool.listen,
        listen_mode=pool.listen_mode,
        workers=s.workers,
        memory_limit=s.memory_limit,
        opcache_mib=s.opcache_mib,
        upload_mib=s.upload_mib,
        idle_seconds=pool.idle_seconds,
        request_seconds=pool.request_seconds,
        php_error_log=pool.php_error_log,
        clear_env=pool.clear_env,
        env=pool.env,
        admin_values=pool.admin_values,
    )


def render(template: str, **values: object) -> str:
    """Any other template of this directory (the drivers' nginx files)."""
    return _jinja.get_template(template).render(**values)
