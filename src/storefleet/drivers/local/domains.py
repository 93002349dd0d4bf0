"""A local store's custom domains (docs/domains.md): routed to it by the one
nginx (further server names; a TLS server block each once its certificate
is here), ACME's HTTP-01 challenges answered from a webroot of the store's
(``/.well-known/acme-challenge/``, nginx alone, no PHP), certificates kept
under ``<sites>/web/certs/<store uid>/`` (root's, keys 0600), and the
store's address: its active primary domain, or the platform's name for it.

Which domains are served, and where the address is, follow from the
store's domains (``ctx.store.domains``) and the certificates on disk, so
every step here converges when it runs again.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from cryptography import x509

from storefleet.config import Settings
from storefleet.drivers.base import PermanentError, StepContext, StoreSnapshot, TransientError
from storefleet.drivers.local.site import write_file
from storefleet.drivers.local.web import StoresWebServer, TlsDomain
from storefleet.drivers.verify import wait_for_answer


class LocalDomains:
    def __init__(self, settings: Settings, web: StoresWebServer) -> None:
        self.settings = settings
        self.web = web

    # -- what is served ------------------------------------------------------------

    def served(self, store: StoreSnapshot) -> tuple[tuple[str, ...], tuple[TlsDomain, ...]]:
        """(domains answered over http only, domains served over TLS)."""
        plain: list[str] = []
        tls: list[TlsDomain] = []
        now = dt.datetime.now(dt.UTC)
        for d in store.domains:
            if not d.routed:
                continue
            chain, key = self.web.certificate_files(store, d.name)
            expires = self.certificate_expiry(store, d.name)
            if d.active and key.is_file() and expires is not None and expires > now:
                tls.append(TlsDomain(d.name, chain, key))
            else:
                plain.append(d.name)
        return tuple(plain), tuple(tls)

    def url(self, domain: str) -> str:
        return self.web.domain_base(domain) + "/"

    def wanted_url(self, store: StoreSnapshot) -> str:
        """The store's address: its primary domain once served over TLS;
        else the domain it is on, while that is served; else its own name."""
        _, tls = self.served(store)
        names = {d.name for d in tls}
        primary = store.primary_domain
        if primary is not None and primary.name in names:
            return self.url(primary.name)
        current = urlsplit(store.url or "").hostname
        if current in names:
            return self.url(str(current))
        return self.web.url(store)

    def redirect_to(self, store: StoreSnapshot) -> str | None:
        """Where the platform's name for the store leads (None: it serves)."""
        _, tls = self.served(store)
        current = urlsplit(store.url or "").hostname
        if store.url and current in {d.name for d in tls}:
            return store.url
        return None

    def forget_unrouted(self, store: StoreSnapshot) -> list[str]:
        """Certificates of domains the store no longer has are removed."""
        routed = {d.name for d in store.domains if d.routed}
        home = self.web.root / "certs" / store.uid
        gone = []
        for path in sorted(home.glob("*.crt")) if home.is_dir() else []:
            name = path.name.removesuffix(".crt")
            if name not in routed:
                path.unlink(missing_ok=True)
                (home / f"{name}.key").unlink(missing_ok=True)
                gone.append(name)
        return gone

    # -- certificates --------------------------------------------------------------

    def certificate_expiry(self, store: StoreSnapshot, domain: str) -> dt.datetime | None:
        chain, _key = self.web.certificate_files(store, domain)
        try:
            cert = x509.load_pem_x509_certificate(chain.read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        return cert.not_valid_after_utc

    def install_certificate(
        self, store: StoreSnapshot, domain: str, chain: bytes, key: bytes
    ) -> None:
        chain_path, key_path = self.web.certificate_files(store, domain)
        chain_path.parent.mkdir(parents=True, exist_ok=True)
        chain_path.parent.parent.chmod(0o700)
        chain_path.parent.chmod(0o700)
        write_file(key_path, key.decode(), 0o600, None)
        write_file(chain_path, chain.decode(), 0o600, None)

    # -- ACME challenges --------------------------------------------------------------

    def publish_challenge(self, ctx: StepContext, domain: str, token: str, answer: str) -> None:
        """The answer in the store's webroot, checked through nginx as the
        ACME server will ask (plain http, the domain's Host)."""
        path = self.web.challenge_file(ctx.store, token)
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in (path.parent, path.parent.parent, self.web.acme_root(ctx.store)):
            parent.chmod(0o755)
        self.web.acme_root(ctx.store).parent.chmod(0o755)
        write_file(path, answer, 0o644, None)
        port = self.settings.stores_http_port
        url, headers, _ = self.web.reach(
            f"http://{domain}:{port}/.well-known/acme-challenge/{token}"
        )
        seconds = min(30.0, max(1.0, ctx.remaining()))
        seen = wait_for_answer(
            url, headers, answer, seconds=seconds, every=0.2, timeout=5, who="nginx"
        )
        if not seen:
            return
        raise TransientError(
            f"the challenge of {domain} is not answered at http://{domain}/.well-known/"
            f"acme-challenge/ through the stores' nginx ({seen})"
        )

    def withdraw_challenge(self, ctx: StepContext, token: str) -> None:
        try:
            self.web.challenge_file(ctx.store, token).unlink(missing_ok=True)
        except PermanentError:
            return
