"""Certificates from an ACME server (RFC 8555; Let's Encrypt, or pebble in
the tests) by the HTTP-01 challenge, through certbot's protocol library.

The platform has one account per ACME directory, its key kept sealed in the
platform database (``AcmeAccount``), so that every worker (and every worker
pod) issues as the same account. A certificate's own private key is made
here for each issuance and handed to the driver with the certificate; it is
never written to the platform database.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

import josepy as jose
import requests
from acme import challenges, client, crypto_util, messages
from acme import errors as acme_errors
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from storefleet.crypto import SecretBox
from storefleet.db import Database
from storefleet.domains.models import AcmeAccount

log = logging.getLogger(__name__)

_USER_AGENT = "storefleet"


class IssuanceFailed(Exception):
    """The certificate could not be obtained; the message says why."""


@dataclass(frozen=True)
class Issued:
    fullchain_pem: bytes
    key_pem: bytes
    not_after: dt.datetime


#: Answers a challenge: (domain, token, key authorization); returns once it does.
Publish = Callable[[str, str, str], None]
Withdraw = Callable[[str, str], None]


def not_after(fullchain_pem: bytes) -> dt.datetime:
    """When the first certificate of a chain expires (UTC)."""
    cert = x509.load_pem_x509_certificate(fullchain_pem)
    return cert.not_valid_after_utc


class AcmeIssuer:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        directory: str,
        *,
        email: str | None = None,
        ca_bundle: str | None = None,
        timeout: float = 120.0,
    ) -> None:
        self.db = db
        self.box = box
        self.directory = directory
        self.email = email
        self.ca_bundle = ca_bundle
        self.timeout = timeout

    # -- the account ----------------------------------------------------------

    def _account_key(self) -> tuple[jose.JWKRSA, str | None]:
        with self.db.transaction() as session:
            row = session.scalar(select(AcmeAccount).where(AcmeAccount.directory == self.directory))
            if row is not None:
                return jose.JWKRSA.json_loads(self.box.open(row.key_enc)), row.uri
        key = jose.JWKRSA(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
        try:
            with self.db.transaction() as session:
                session.add(
                    AcmeAccount(directory=self.directory, key_enc=self.box.seal(key.json_dumps()))
                )
        except IntegrityError:
            return self._account_key()  # another worker made it first: use theirs
        return key, None

    def _remember_uri(self, uri: str) -> None:
        with self.db.transaction() as session:
            row = session.scalar(select(AcmeAccount).where(AcmeAccount.directory == self.directory))
            if row is not None and row.uri != uri:
                row.uri = uri

    def _client(self) -> client.ClientV2:
        key, uri = self._account_key()
        # requests takes a CA bundle's path where the library says "bool".
        verify: bool | str = self.ca_bundle or True
        net = client.ClientNetwork(
            key, alg=jose.RS256, verify_ssl=verify,  # type: ignore[arg-type]
            user_agent=_USER_AGENT, timeout=30,
        )  # fmt: skip
        acme = client.ClientV2(client.ClientV2.get_directory(self.directory, net), net)
        registration = messages.NewRegistration.from_data(
            email=self.email, terms_of_service_agreed=True
        )
        try:
            regr = acme.new_account(registration)
        except acme_errors.ConflictError as exists:
            # The key has an account already: use it.
            regr = messages.RegistrationResource(uri=exists.location, body=messages.Registration())
            net.account = regr
        if regr.uri and regr.uri != uri:
            self._remember_uri(regr.uri)
        return acme

    # -- one certificate ----------------------------------------------------------

    def issue(self, domain: str, publish: Publish, withdraw: Withdraw) -> Issued:
        """A certificate for ``domain``; IssuanceFailed with the reason."""
        key = ec.generate_private_key(ec.SECP256R1())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        published: list[str] = []
        try:
            acme = self._client()
            order = acme.new_order(crypto_util.make_csr(key_pem, [domain]))
            for authz in order.authorizations:
                if authz.body.status == messages.STATUS_VALID:
                    continue  # validated earlier for this account
                challenge = _http01(authz)
                response, validation = challenge.response_and_validation(acme.net.key)
                token = challenge.chall.encode("token")
                publish(domain, token, validation)
                published.append(token)
                acme.answer_challenge(challenge, response)
            # The library compares its deadline with naive local time.
            deadline = dt.datetime.now() + dt.timedelta(seconds=self.timeout)
            done = acme.poll_and_finalize(order, deadline=deadline)
        except acme_errors.ValidationError as exc:
            raise IssuanceFailed(_validation_reason(exc)) from exc
        except acme_errors.TimeoutError as exc:
            raise IssuanceFailed(
                f"the ACME server did not validate and issue within {self.timeout:.0f} s"
            ) from exc
        except (acme_errors.Error, requests.RequestException, jose.errors.Error) as exc:
            raise IssuanceFailed(f"the ACME server ({self.directory}): {exc}") from exc
        finally:
            for token in published:
                withdraw(domain, token)
        chain = done.fullchain_pem.encode()
        return Issued(chain, key_pem, not_after(chain))


def _http01(authz: messages.AuthorizationResource) -> messages.ChallengeBody:
    for challenge in authz.body.challenges:
        if isinstance(challenge.chall, challenges.HTTP01):
            return challenge
    raise IssuanceFailed(
        f"the ACME server offers no HTTP-01 challenge for {authz.body.identifier.value}"
    )


def _validation_reason(exc: acme_errors.ValidationError) -> str:
    reasons = []
    for authz in exc.failed_authzrs:
        for challenge in authz.body.challenges:
            if challenge.error is not None:
                detail = (
                    challenge.error.detail or challenge.error.description or challenge.error.typ
                )
                reasons.append(f"{challenge.chall.typ}: {detail}")
    return "the ACME server could not validate the domain: " + ("; ".join(reasons) or str(exc))
