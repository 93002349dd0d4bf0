"""The CLI as an API client: where the API is, the signed-in token, and one
place that sends requests and says when the API cannot be reached."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NoReturn

import httpx
import typer

from storefleet.cli.apps import app
from storefleet.cli.host import read_password
from storefleet.config import get_settings

_CREDENTIALS = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "storefleet"


def api_url() -> str:
    return os.environ.get("STOREFLEET_API_URL", f"http://localhost:{get_settings().port}")


def token() -> str:
    """STOREFLEET_TOKEN (an API token, ``sfp_…``, or a sign-in's token), else
    the token ``storefleet login`` saved."""
    token = os.environ.get("STOREFLEET_TOKEN")
    if token:
        return token
    path = _CREDENTIALS / "token.json"
    if not path.exists():
        typer.echo("error: not signed in; run `storefleet login EMAIL` first", err=True)
        raise typer.Exit(1)
    return str(json.loads(path.read_text())["access_token"])


def request(method: str, path: str, **kwargs: Any) -> Any:
    if kwargs.get("json") is None:
        kwargs.pop("json", None)
    resp = http(method, path, headers={"Authorization": f"Bearer {token()}"}, **kwargs)
    if resp.status_code >= 400:
        refused(resp)
    return resp.json()


def refused(resp: httpx.Response) -> NoReturn:
    """Say why the API refused (its ``detail``) and exit 1."""
    detail = (
        resp.json().get("detail")
        if resp.headers.get("content-type", "").startswith("application/json")
        else resp.text
    )
    if isinstance(detail, list):
        detail = "; ".join(d.get("msg", str(d)) for d in detail)
    typer.echo(f"error ({resp.status_code}): {detail}", err=True)
    raise typer.Exit(1)


def http(method: str, path: str, **kwargs: Any) -> httpx.Response:
    """A request to the API; one line and exit 1 when it cannot be reached."""
    kwargs.setdefault("timeout", 30)
    try:
        return httpx.request(method, api_url() + path, **kwargs)
    except httpx.HTTPError as exc:
        typer.echo(
            f"error: cannot reach the API at {api_url()}: {exc} "
            "(STOREFLEET_API_URL names the platform's address)",
            err=True,
        )
        raise typer.Exit(1) from exc


@app.command()
def login(email: str) -> None:
    """Sign in to the API; the token is kept in ~/.config/storefleet (0600).
    Asks for a two-factor code (or a recovery code) when the account has one."""
    password = read_password()
    body = {"email": email, "password": password}
    resp = http("POST", "/api/auth/login", json=body)
    if resp.status_code == 401 and resp.headers.get("x-storefleet-otp") == "required":
        body["otp"] = read_password("Two-factor code (or a recovery code): ")
        resp = http("POST", "/api/auth/login", json=body)
    if resp.status_code != 200:
        typer.echo(f"error ({resp.status_code}): {resp.json().get('detail')}", err=True)
        raise typer.Exit(1)
    _CREDENTIALS.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = _CREDENTIALS / "token.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(resp.json(), f)
    typer.echo(f"signed in as {email}")


@app.command()
def logout() -> None:
    """Sign out: the saved token is ended on the server and removed here."""
    path = _CREDENTIALS / "token.json"
    if not path.exists():
        typer.echo("not signed in")
        return
    saved = str(json.loads(path.read_text())["access_token"])
    resp = http("POST", "/api/auth/logout", headers={"Authorization": f"Bearer {saved}"})
    path.unlink()
    if resp.status_code not in (204, 401):
        typer.echo(f"warning ({resp.status_code}): {resp.text[:200]}", err=True)
    typer.echo("signed out")
