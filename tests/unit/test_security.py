from __future__ import annotations

import pytest

from storefleet.auth import passwords, tokens
from storefleet.crypto import InvalidToken, SecretBox
from storefleet.exceptions import NotAuthenticated
from storefleet.names import is_valid_store_name


def test_passwords_are_argon2id_and_verify() -> None:
    h = passwords.hash_password("correct horse")
    assert h.startswith("$argon2id$")
    assert passwords.verify_password(h, "correct horse")
    assert not passwords.verify_password(h, "wrong horse")
    assert not passwords.verify_password(None, "anything")
    assert not passwords.verify_password("not-a-hash", "anything")


def test_generated_passwords_differ() -> None:
    assert len({passwords.generate_password() for _ in range(50)}) == 50


def test_tokens_round_trip_and_reject_other_keys() -> None:
    token = tokens.issue(42, "member", key="k" * 40, minutes=5, sid="s1")
    claims = tokens.claims(token, key="k" * 40)
    assert (claims["sub"], claims["sid"]) == ("42", "s1")
    with pytest.raises(NotAuthenticated, match="Invalid"):
        tokens.claims(token, key="q" * 40)
    with pytest.raises(NotAuthenticated, match="expired"):
        tokens.claims(tokens.issue(1, "member", key="k" * 40, minutes=-1, sid="s"), key="k" * 40)
    # A token without a session (as issued before sessions were recorded) is refused.
    import jwt

    old = jwt.encode({"sub": "1", "aud": "storefleet", "exp": 4102444800}, "k" * 40)
    with pytest.raises(NotAuthenticated, match="Invalid"):
        tokens.claims(old, key="k" * 40)


def test_secret_box_is_authenticated_encryption() -> None:
    box = SecretBox("k" * 40)
    sealed = box.seal("hunter2-password")
    assert "hunter2" not in sealed
    assert box.open(sealed) == "hunter2-password"
    assert sealed != box.seal("hunter2-password")  # random nonce
    with pytest.raises(InvalidToken):
        SecretBox("other" * 10).open(sealed)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("abc", True),
        ("my-shop-2", True),
        ("a" * 40, True),
        ("ab", False),
        ("a" * 41, False),
        ("Shop", False),
        ("1shop", False),
        ("shop-", False),
        ("-shop", False),
        ("sh_op", False),
        ("shop.one", False),
        ("shop\n", False),
        ("", False),
    ],
)
def test_store_names_are_dns_labels(name: str, ok: bool) -> None:
    assert is_valid_store_name(name) is ok
