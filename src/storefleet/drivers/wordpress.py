"""What both drivers know of a store's WordPress: the admin's user name and
the secrets a site is made with (its database password and the salts of
``wp-config.php``), generated once per store and never again."""

from __future__ import annotations

import secrets

#: The store admin's WordPress user name (the merchant picks the password).
ADMIN_USER = "admin"

#: The wp-config.php salt constants.
SALTS = (
    "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY",
    "AUTH_SALT", "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT",
)  # fmt: skip


def new_site_secrets() -> dict[str, str]:
    """A new store's database password (``db_password``) and salts (by
    constant name)."""
    values = {"db_password": secrets.token_urlsafe(24)}
    values.update({salt: secrets.token_urlsafe(48) for salt in SALTS})
    return values
