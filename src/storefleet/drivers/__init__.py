"""Store drivers: they turn a store into running software.

``base`` is the step contract; ``installer`` the one client of the store
installer and ``shared_steps`` the steps both drivers run alike;
``local`` and ``kubernetes`` decide where a store runs."""

from __future__ import annotations

from storefleet.config import DriverName, Settings
from storefleet.drivers.base import StoreDriver
from storefleet.drivers.local.logs import read_store_log
from storefleet.drivers.local.mailbox import MailMessage, read_mailbox
from storefleet.drivers.logs import LogEntry, LogPage, LogQuery, LogSource

__all__ = [
    "LogEntry",
    "LogPage",
    "LogQuery",
    "LogSource",
    "MailMessage",
    "StoreDriver",
    "domain_url",
    "make_driver",
    "store_logs",
    "store_mail",
]


def make_driver(settings: Settings) -> StoreDriver:
    if settings.driver is DriverName.local:
        from storefleet.drivers.local import LocalDriver

        return LocalDriver(settings)
    from storefleet.drivers.kubernetes import KubernetesDriver

    return KubernetesDriver(settings)


def store_mail(
    settings: Settings, driver: str, store_uid: str, *, limit: int
) -> tuple[str, list[MailMessage]]:
    """How a store's mail is delivered, and what of it the platform keeps
    (newest first): local stores' mail waits in a mailbox of their own;
    Kubernetes stores send through the SMTP server the chart configures."""
    if driver == DriverName.local.value:
        return "mailbox", read_mailbox(settings, store_uid, limit=limit)
    return "smtp", []


def domain_url(settings: Settings, driver: str, domain: str) -> str:
    """Where a store answers at a custom domain: https, on the stores' TLS
    port (local: its nginx's; Kubernetes: the ingress's)."""
    if driver == DriverName.local.value:
        port: int | None = settings.stores_https_port
    else:
        port = settings.k8s_store_https_port
    return f"https://{domain}" + ("" if port in (None, 443) else f":{port}") + "/"


def store_logs(settings: Settings, driver: str, store_uid: str, query: LogQuery) -> LogPage | None:
    """A store's log lines (newest first, redacted) when this process can
    read them: local stores' logs are files on this machine. None for a
    Kubernetes store: its pod's logs are the cluster's, and only a worker
    may read them (the API has no cluster rights)."""
    if driver == DriverName.local.value:
        return read_store_log(settings, store_uid, query)
    return None
