"""Custom domains of stores: the ownership proof (``proof``), certificates
from an ACME server (``certificates``, ``issuance``), the API (``service``,
``endpoints``) and the reconciler's share (``sweep``); docs/domains.md."""
