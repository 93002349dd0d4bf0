"""Typed settings read from ``STOREFLEET_*`` environment variables.

Values come from the environment, then from ``.env`` and ``var/services.env``
(written by ``scripts/services.sh``). Outside development a missing or weak
secret key or admin password stops start-up: a hosting platform must never run
on a default secret.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from storefleet.plans import Plan, parse_plans


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class DriverName(StrEnum):
    local = "local"
    kubernetes = "kubernetes"


_MIN_SECRET_KEY = 32
_MIN_ADMIN_PASSWORD = 12


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STOREFLEET_",
        env_file=(".env", "var/services.env"),
        extra="ignore",
    )

    env: Environment = Environment.development
    data_dir: Path = Path("var")

    # HTTP
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    public_host: str = "localhost"
    #: Addresses or networks (CIDR) of the reverse proxies whose X-Forwarded-For
    #: and X-Forwarded-Proto are believed (comma-separated); none by default.
    #: The throttle, the rate limit and the audit log see the client behind them.
    trusted_proxies: Annotated[list[str], NoDecode] = []

    # Security
    secret_key: SecretStr | None = None
    access_token_minutes: Annotated[int, Field(ge=1)] = 60
    admin_email: str = "admin@example.com"
    admin_password: SecretStr | None = None
    #: Sign-in attempts per window: per account (cleared by a success) and per
    #: client address (every attempt counts).
    login_failures_per_account: Annotated[int, Field(ge=1)] = 5
    login_failures_per_address: Annotated[int, Field(ge=1)] = 30
    login_window_seconds: Annotated[int, Field(ge=1)] = 300
    #: Memory for Argon2 password checks at once (64 MiB each): the API computes
    #: at most max(1, this // 64) hashes at a time (auth/passwords.py).
    password_check_memory_mib: Annotated[int, Field(ge=64)] = 192
    #: How long a sign-in waits for a free check before a 503.
    password_check_wait_seconds: Annotated[float, Field(gt=0, le=60)] = 3.0
    #: The whole API's rate limit, per signed-in user (the token's subject) and
    #: per client address: high enough for dashboards, scripts and CI that poll,
    #: low enough to stop a runaway client (see web/ratelimit.py).
    api_requests_per_minute_per_token: Annotated[int, Field(ge=1)] = 3000
    api_requests_per_minute_per_address: Annotated[int, Field(ge=1)] = 6000
    #: Admins must use two-factor sign-in: one without it may sign in only to
    #: enrol (every other endpoint answers 403 until it has).
    require_2fa_for_admins: bool = False
    #: Addresses or networks (CIDR, comma-separated) that may read /metrics
    #: without a token; anyone else needs an API token with the metrics scope.
    metrics_trusted_networks: Annotated[list[str], NoDecode] = []

    # Webhooks
    #: Deliver to loopback, link-local and private addresses too (off: such
    #: URLs are refused when registered and when connected to).
    webhooks_allow_private_networks: bool = False
    #: Attempts per delivery (exponential backoff from the first wait, capped
    #: at an hour), and how long one attempt may take.
    webhook_max_attempts: Annotated[int, Field(ge=1, le=50)] = 12
    webhook_retry_initial_seconds: Annotated[float, Field(gt=0, le=3600)] = 10.0
    webhook_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0

    # Platform database and queue
    database_url: str | None = None
    redis_url: str | None = None

    # Quotas (per member; admins may change them per user)
    max_live_stores: Annotated[int, Field(ge=0)] = 5
    max_creations_per_hour: Annotated[int, Field(ge=0)] = 20
    #: Standby stores kept provisioned so that "Create store" adopts one and is
    #: ready in about a second (stores/pool.py); 0: every store is provisioned
    #: on request. One by default: an idle standby costs a database and a
    #: directory of links, no PHP process, and one adoption is what a person
    #: trying the platform does first; the sweep makes the next one meanwhile.
    warm_pool_size: Annotated[int, Field(ge=0, le=100)] = 1

    # Workers and reconciler
    worker_concurrency: Annotated[int, Field(ge=1, le=64)] = 3
    lease_seconds: Annotated[float, Field(gt=0)] = 30.0
    reconcile_interval_seconds: Annotated[float, Field(gt=0)] = 10.0
    #: /readyz reports the reconciler as stale when its last good sweep is older.
    reconciler_stale_seconds: Annotated[float, Field(gt=0)] = 120.0
    requeue_after_seconds: Annotated[float, Field(gt=0)] = 30.0
    step_deadline_seconds: Annotated[float, Field(gt=0)] = 300.0
    operation_deadline_seconds: Annotated[float, Field(gt=0)] = 1200.0
    max_step_attempts: Annotated[int, Field(ge=1)] = 5
    #: How long a starting worker waits for what its driver needs and finds
    #: not up yet (the stores' MySQL starting beside it) before it gives up.
    worker_startup_wait_seconds: Annotated[float, Field(ge=0)] = 300.0

    _signing_key: str | None = PrivateAttr(default=None)

    # Health after ready: how often ready stores are checked, and how many
    # failed checks in a row make a store "degraded".
    health_interval_seconds: Annotated[float, Field(gt=0)] = 30.0
    health_failures_before_degraded: Annotated[int, Field(ge=1)] = 3
    health_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    #: Local stores: each check asks nginx and looks at php-fpm, without
    #: waking PHP; the storefront itself (PHP, its database) is checked at
    #: most this often, each store at a point of its own.
    health_deep_seconds: Annotated[float, Field(ge=0)] = 600.0

    # Backups
    #: "dir": under backup_dir; "s3": an S3-compatible bucket (boto3).
    backup_target: Literal["dir", "s3"] = "dir"
    #: Default: <data_dir>/backups.
    backup_dir: Path | None = None
    backup_s3_endpoint: str | None = None
    backup_s3_region: str = "us-east-1"
    backup_s3_bucket: str | None = None
    backup_s3_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9._/-]{0,200}$")] = "storefleet/"
    backup_s3_access_key: SecretStr | None = None
    backup_s3_secret_key: SecretStr | None = None
    #: The key backups are encrypted with (any length; HKDF-derived); default:
    #: derived from the secret key. Keep it: backups cannot be read without it.
    backup_key: SecretStr | None = None
    #: Every store is backed up this often (hours; 0: no scheduled backups);
    #: a store's own ``backup_schedule_hours`` overrides it.
    backup_schedule_hours: Annotated[float, Field(ge=0)] = 24.0
    #: How many of a store's manual, scheduled and upgrade backups are kept.
    backup_retention_count: Annotated[int, Field(ge=1)] = 7
    #: How long the backup taken before a store is deleted is kept.
    final_backup_days: Annotated[float, Field(ge=0)] = 30.0

    # Logs: "text" for people, "json" (one object a line) for collectors.
    log_format: Literal["text", "json"] = "text"

    # Store drivers
    driver: DriverName = DriverName.local
    stores_db_url: str | None = None
    stores_db_prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")] = "store_"
    stores_db_user_host: str = "%"
    stores_db_max_connections: Annotated[int, Field(ge=1)] = 30
    #: Where release archives come from when not from their official URLs: a
    #: directory or an https base URL holding the files named in releases/pins.json.
    artifacts: str | None = None
    #: Verified, unpacked releases (default: <sites dir>/releases).
    releases_dir: Path | None = None
    #: A pins file whose releases are added to (or override) the packaged
    #: releases/pins.json: pin a release ahead of a platform update.
    release_pins: Path | None = None
    #: The most a release download, or what it unpacks to, may weigh.
    download_max_bytes: Annotated[int, Field(ge=1 << 20)] = 512 << 20
    #: PHP's command line (the installer, wp-cron), php-fpm and nginx of local stores.
    php_binary: str = "php"
    php_fpm_binary: str = "php-fpm8.2"
    nginx_binary: str = "nginx"
    #: The one nginx of local stores: stores answer at
    #: http://<name>.<STOREFLEET_PUBLIC_HOST>:<this port>/ (80: no port in URLs).
    stores_http_port: Annotated[int, Field(ge=1, le=65535)] = 8080
    #: nginx's worker user (it reads stores' static files through their group).
    web_user: str = "www-data"
    #: How long anonymous shoppers' pages stay in the page cache: a merchant's
    #: change reaches them within this long.
    page_cache_seconds: Annotated[int, Field(ge=0, le=3600)] = 5
    #: An idle store's PHP workers end after this long (php-fpm ondemand).
    php_idle_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    #: ... and its php-fpm master after this long without a worker: an idle
    #: store then runs no PHP at all, and the next request starts it (0: never).
    php_master_idle_seconds: Annotated[int, Field(ge=0)] = 300
    #: A local store's logs (PHP errors, access log, php-fpm's, wp-cron's) are
    #: rotated by the reconciler's sweep once one passes this size; one older
    #: file is kept, so each takes at most about twice this on disk.
    store_log_max_mib: Annotated[int, Field(ge=1, le=1024)] = 10
    #: Store cgroups live under <cgroup hierarchy>/<this>/<store uid>.
    cgroup_parent: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = "storefleet"
    #: The plans stores may have (a JSON list, see storefleet/plans.py), the
    #: plan new stores get, and the plans members may pick (admins: any).
    plans: str | None = None
    default_plan: str = "small"
    member_plans: Annotated[list[str], NoDecode] = ["small", "medium"]
    #: Where local stores live (their sites, and the verified releases they link
    #: from); it must be reachable by the stores' own uids. Default: the data
    #: dir, or /var/lib/storefleet when the platform runs as root (the data dir
    #: may sit in a home directory no other user can enter).
    sites_dir: Path | None = None
    #: Each local store's PHP runs as a uid (and gid) of its own from this range.
    store_uid_min: Annotated[int, Field(ge=1000)] = 2_000_000
    store_uid_max: Annotated[int, Field(ge=1000)] = 2_999_999
    #: How often the platform looks whether a ready local store has wp-cron
    #: events due (it runs wp-cron only then, at a point of the interval of
    #: its own).
    store_cron_interval_seconds: Annotated[float, Field(gt=0)] = 60.0
    #: Defaults of every new shop: WooCommerce's "country:state" and currency.
    store_country: Annotated[str, Field(pattern=r"^[A-Z]{2}(:[A-Z0-9-]{1,10})?$")] = "US:CA"
    store_currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    #: Where the stores' nginx listens.
    store_bind_host: str = "127.0.0.1"
    #: ... and its TLS port: stores' custom domains answer at
    #: https://<domain>:<this port>/ (443: no port in URLs).
    stores_https_port: Annotated[int, Field(ge=1, le=65535)] = 8443

    # Custom domains (docs/domains.md)
    #: The DNS server(s) that ownership proofs (TXT records) are looked up
    #: through: "host[:port]" or a comma-separated list; unset: the system's.
    dns_resolver: str | None = None
    #: The ACME server certificates come from (its directory URL).
    acme_directory: str = "https://acme-v02.api.letsencrypt.org/directory"
    #: The contact of the platform's ACME account (expiry notices); optional.
    acme_email: str | None = None
    #: A PEM file of CAs trusted besides the system's, for the ACME server's
    #: API and for checking the stores' certificates (a test CA such as pebble's).
    acme_ca_bundle: Path | None = None
    #: A certificate is renewed once it expires within this many days.
    acme_renew_days: Annotated[float, Field(gt=0)] = 30.0
    #: How long the ACME server may take to validate and issue one certificate.
    acme_timeout_seconds: Annotated[float, Field(gt=0)] = 120.0
    #: A domain waiting for its ownership proof is looked up every this many
    #: seconds at first, then less often (doubling, at most hourly).
    domain_check_seconds: Annotated[float, Field(gt=0)] = 60.0

    # Kubernetes driver
    k8s_platform_namespace: str = "storefleet"
    k8s_chart: Path = Path(__file__).resolve().parents[2] / "charts" / "woocommerce-store"
    k8s_store_values: Path | None = None
    k8s_store_namespace_prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{0,15}$")] = "store-"
    helm_binary: str = "helm"
    #: The stores MySQL host as pods see it (default: the host of STORES_DB_URL).
    k8s_stores_db_host: str | None = None
    #: ... and its port (default: STORES_DB_URL's without STOREFLEET_K8S_STORES_DB_HOST,
    #: 3306 with it: the platform may reach the server through another port,
    #: e.g. a node port, than pods do through its Service).
    k8s_stores_db_port: Annotated[int | None, Field(ge=1, le=65535)] = None
    #: perNamespace: bind k8s_store_role to the worker in each store namespace;
    #: clusterWide: the platform chart bound it cluster-wide (nothing to do).
    k8s_store_access: Literal["perNamespace", "clusterWide"] = "clusterWide"
    k8s_store_role: str | None = None
    k8s_worker_service_account: str = "storefleet-worker"
    #: Stores get <name>.<domain> through an Ingress when set (the test
    #: node: ``localhost``, so http://<name>.localhost:30080/); unset: a node
    #: port per store.
    k8s_store_domain: str | None = None
    #: The port in stores' URLs when the ingress is not on 80/443 (30080 on
    #: the test node); unset: the scheme's own.
    k8s_store_url_port: Annotated[int | None, Field(ge=1, le=65535)] = None
    #: https:// store URLs (TLS at the ingress); the pod is told so by
    #: X-Forwarded-Proto, in probes and verify too.
    k8s_store_tls: bool = False
    #: The port in custom domains' https URLs when the ingress's TLS port is
    #: not 443 (30443 on the test node); unset: 443.
    k8s_store_https_port: Annotated[int | None, Field(ge=1, le=65535)] = None
    #: The SMTP password of the stores' mail (the store chart's smtp.* values
    #: hold the rest); it reaches each store's Secret, never argv.
    k8s_store_smtp_password: SecretStr | None = None
    #: Whether a store's pod runs on a simulated (kwok) node is read from its
    #: node; when the worker may not read nodes, this says it instead.
    k8s_nodes_simulated: bool = False
    #: Where `make k8s-up` puts its kubeconfig and tools (bin/helm,
    #: bin/kubectl): used when KUBECONFIG is unset and no helm is on PATH.
    k8s_testenv_dir: Path = Path(__file__).resolve().parents[2] / "var" / "k8s"
    #: Labels each store namespace storefleet.io/instance=<this>, so that one
    #: platform release finds (and purges) its own stores only; the platform
    #: chart sets <namespace>.<release>.
    k8s_instance: Annotated[
        str, Field(max_length=63, pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
    ] = "storefleet"

    @field_validator("trusted_proxies", "metrics_trusted_networks", mode="before")
    @classmethod
    def _proxy_networks(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.replace(" ", ",").split(",") if part]
        if not isinstance(value, list):
            return value
        networks = []
        for item in value:
            try:
                networks.append(str(ipaddress.ip_network(str(item).strip(), strict=False)))
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an address or a network") from exc
        return networks

    @field_validator("member_plans", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _known_plans(self) -> Self:
        names = {plan.name for plan in self.plan_list}
        for name in (self.default_plan, *self.member_plans):
            if name not in names:
                raise ValueError(
                    f"plan {name!r} (STOREFLEET_DEFAULT_PLAN / STOREFLEET_MEMBER_PLANS) is not "
                    f"one of the plans: {', '.join(sorted(names))}"
                )
        return self

    @property
    def plan_list(self) -> tuple[Plan, ...]:
        return parse_plans(self.plans)

    @model_validator(mode="after")
    def _secure_outside_development(self) -> Self:
        if self.env is not Environment.production:
            return self
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if len(key) < _MIN_SECRET_KEY:
            raise ValueError(
                f"STOREFLEET_SECRET_KEY must be set to at least {_MIN_SECRET_KEY} random "
                "characters when STOREFLEET_ENV=production"
            )
        pw = self.admin_password.get_secret_value() if self.admin_password else ""
        if len(pw) < _MIN_ADMIN_PASSWORD:
            raise ValueError(
                f"STOREFLEET_ADMIN_PASSWORD must be set to at least {_MIN_ADMIN_PASSWORD} "
                "characters when STOREFLEET_ENV=production"
            )
        if self.database_url is None:
            raise ValueError("STOREFLEET_DATABASE_URL must be set when STOREFLEET_ENV=production")
        return self

    @model_validator(mode="after")
    def _stale_after_some_sweeps(self) -> Self:
        if self.reconciler_stale_seconds < 2 * self.reconcile_interval_seconds:
            raise ValueError(
                "STOREFLEET_RECONCILER_STALE_SECONDS must be at least twice "
                "STOREFLEET_RECONCILE_INTERVAL_SECONDS"
            )
        return self

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if self.store_uid_min > self.store_uid_max:
            raise ValueError("STOREFLEET_STORE_UID_MIN must not exceed STOREFLEET_STORE_UID_MAX")
        return self

    # Derived values -------------------------------------------------------

    @property
    def data_path(self) -> Path:
        return self.data_dir.resolve()

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_path / 'storefleet.db'}"

    @property
    def queue_path(self) -> Path:
        return self.data_path / "queue.db"

    @property
    def sites_path(self) -> Path:
        if self.sites_dir is not None:
            return self.sites_dir.resolve()
        if os.geteuid() == 0:
            return Path("/var/lib/storefleet")
        return self.data_path

    @property
    def work_path(self) -> Path:
        """Scratch directories of running operations (backups in the making)."""
        return self.data_path / "operations"

    @property
    def backups_path(self) -> Path:
        return (self.backup_dir or self.data_path / "backups").resolve()

    @property
    def stores_path(self) -> Path:
        return self.sites_path / "stores"

    @property
    def releases_path(self) -> Path:
        return (self.releases_dir or self.sites_path / "releases").resolve()

    def ensure_data_dir(self) -> Path:
        """The data directory, made private: it holds the platform database,
        the queue, the signing key and the services' credentials, and local
        stores run under other uids on this machine."""
        path = self.data_path
        path.mkdir(parents=True, exist_ok=True)
        if path.stat().st_uid == os.geteuid():
            path.chmod(0o700)
        return path

    def signing_key(self) -> str:
        """The JWT and encryption key.

        In development a random key is generated once and kept in the data
        directory (mode 0600), so that the API and the worker processes share it
        and tokens survive a restart; production requires it to be configured.
        """
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self._signing_key is None:
            self._signing_key = self._development_key()
        return self._signing_key

    def _development_key(self) -> str:
        path = self.data_path / "secret_key"
        if not path.exists():
            self.ensure_data_dir()
            tmp = path.with_name(f".secret_key.{secrets.token_hex(4)}")
            tmp.touch(mode=0o600)
            tmp.write_text(secrets.token_urlsafe(48), encoding="ascii")
            # link() is atomic and refuses to overwrite: processes starting at
            # once agree on one key, and nobody reads a half-written file.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
            tmp.unlink()
        return path.read_text(encoding="ascii").strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
