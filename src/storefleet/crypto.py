"""Encryption of the secrets the platform must hold for a short while (a
store's admin password between the API and the install step).

Fernet (authenticated encryption) with a key derived by HKDF from the platform
secret key, so a database dump alone reveals nothing.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["InvalidToken", "SecretBox"]


class SecretBox:
    def __init__(self, signing_key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"storefleet/secret-box/v1"
        ).derive(signing_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def open(self, token: str) -> str:
        return self._fernet.decrypt(token.encode("ascii")).decode()
