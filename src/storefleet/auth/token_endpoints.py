"""HTTP endpoints of personal access tokens (sign-ins only: a token cannot
make, list or revoke tokens)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from storefleet.auth import api_tokens
from storefleet.auth.schemas import TokenCreate, TokenCreated, TokenOut, TokenPage
from storefleet.deps import ClientIP, CurrentUser, SessionDep
from storefleet.exceptions import ERROR_RESPONSES

router = APIRouter(
    prefix="/api/tokens",
    tags=["tokens"],
    responses={401: ERROR_RESPONSES[401], 403: ERROR_RESPONSES[403]},
)

TokenId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(
    body: TokenCreate, user: CurrentUser, session: SessionDep, ip: ClientIP
) -> TokenCreated:
    """Make a personal access token. ``token`` is in this answer only: keep
    it; the platform keeps only its hash. Scopes: ``read``, ``stores``,
    ``webhooks``, ``admin`` and ``metrics`` (the last two: admins only)."""
    token, secret = api_tokens.create(session, user, body, client_ip=ip)
    return TokenCreated(**TokenOut.model_validate(token).model_dump(), token=secret)


@router.get("", response_model=TokenPage)
def list_tokens(user: CurrentUser, session: SessionDep) -> TokenPage:
    """Your tokens, newest first, with when each was last used (to the minute)."""
    return TokenPage(items=[TokenOut.model_validate(t) for t in api_tokens.mine(session, user)])


@router.delete("/{token_id}", response_model=TokenOut, responses={404: ERROR_RESPONSES[404]})
def revoke_token(
    token_id: TokenId, user: CurrentUser, session: SessionDep, ip: ClientIP
) -> TokenOut:
    """Revoke one of your tokens: it is refused (401) from now on."""
    return TokenOut.model_validate(api_tokens.revoke(session, user, token_id, client_ip=ip))
