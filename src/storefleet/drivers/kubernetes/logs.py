"""A Kubernetes store's logs: what its pod's containers wrote, read through
the API server's ``pods/log`` (the worker's role in store namespaces has it;
the API has no cluster rights and asks a worker: operations/log_reader.py).

Each container of the store's web pods is read by name, with the kubelet's
timestamps, the newest ``TAIL_LINES`` lines of each. Lines are sorted into
the two sources by their shape: access-log lines (nginx's, or Apache's in
the images before nginx) are ``access``; everything else — PHP's errors,
php-fpm's and nginx's own messages — is ``php``. So a pod whose one
container runs nginx and php-fpm and a pod with a container for each read
alike.

What is kept is the kubelet's business: it rotates each container's log at
its ``containerLogMaxSize`` (10 MiB by default) and serves the current file;
a pod that is replaced (an upgrade, a resize, a restore) takes its lines
with it.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
from collections.abc import Iterator

from kubernetes.client import V1Pod
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from storefleet.config import Settings
from storefleet.drivers.base import StoreSnapshot, TransientError
from storefleet.drivers.kubernetes.cluster import Cluster, api_error
from storefleet.drivers.kubernetes.names import WEB_SELECTOR, StoreNames
from storefleet.drivers.logs import (
    LogPage,
    LogQuery,
    LogSource,
    RawLine,
    collect,
    is_access_line,
)

#: The newest lines read of each container (what a search looks through).
TAIL_LINES = 5000
_LIMIT_BYTES = 8 << 20
_TIMEOUT = 20
KEPT = (
    "The cluster keeps what the store's pod wrote: the kubelet rotates each "
    "container's log at 10 MiB (its containerLogMaxSize) and a replaced pod's "
    f"lines are gone; the newest {TAIL_LINES:,} lines of each container are searched."
)


class StoreLogs:
    def __init__(self, settings: Settings, cluster: Cluster, names: StoreNames) -> None:
        self.settings = settings
        self.cluster = cluster
        self.names = names

    def read(self, store: StoreSnapshot, query: LogQuery) -> LogPage:
        ns = self.names.namespace(store)
        try:
            pods = self.cluster.core.list_namespaced_pod(ns, label_selector=WEB_SELECTOR).items
        except ApiException as exc:
            if exc.status == 404:
                return LogPage([], more=False, kept=KEPT)
            raise api_error(f"listing the store's pods in {ns}", exc) from exc
        streams = [
            self._lines(ns, pod, container.name, query)
            for pod in pods
            for container in (pod.spec.containers if pod.spec else [])
        ]
        # Newest first across pods and containers (each stream already is).
        merged = heapq.merge(*streams, key=lambda line: line[0] or _EPOCH, reverse=True)
        return collect(merged, query, KEPT)

    def _lines(self, ns: str, pod: V1Pod, container: str, query: LogQuery) -> Iterator[RawLine]:
        text = self._read(ns, str(pod.metadata.name), container, query.since)
        lines = []
        for raw in text.splitlines():
            stamp, _, line = raw.partition(" ")
            at = _kubelet_time(stamp)
            if at is None:  # not a timestamped line: keep it whole
                at, line = None, raw
            if is_access_line(line) == (query.source is LogSource.access):
                lines.append((at, line))
        return reversed(lines)

    def _read(self, ns: str, pod: str, container: str, since: dt.datetime | None) -> str:
        extra = {}
        if since is not None:
            ago = (dt.datetime.now(dt.UTC) - since).total_seconds()
            extra["since_seconds"] = max(1, math.ceil(ago) + 1)
        try:
            resp = self.cluster.core.read_namespaced_pod_log(
                pod, ns, container=container, timestamps=True, tail_lines=TAIL_LINES,
                limit_bytes=_LIMIT_BYTES, _preload_content=False, _request_timeout=_TIMEOUT,
                **extra,
            )  # fmt: skip
        except ApiException as exc:
            # A container that has not started yet (400), or a pod just gone.
            if exc.status in (400, 404):
                return ""
            raise api_error(f"reading the logs of {ns}/{pod} ({container})", exc) from exc
        except HTTPError as exc:
            raise TransientError(f"reading the logs of {ns}/{pod}: {exc}") from exc
        try:
            return bytes(resp.data).decode("utf-8", errors="replace")
        finally:
            resp.release_conn()


_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


def _kubelet_time(stamp: str) -> dt.datetime | None:
    """The kubelet's RFC 3339 timestamp (nanoseconds: Python keeps micro)."""
    if not stamp.endswith("Z") or "T" not in stamp:
        return None
    whole, _, frac = stamp[:-1].partition(".")
    try:
        at = dt.datetime.fromisoformat(whole).replace(tzinfo=dt.UTC)
    except ValueError:
        return None
    return at + dt.timedelta(microseconds=int((frac + "000000")[:6])) if frac.isdigit() else at
