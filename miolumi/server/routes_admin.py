"""REST for the operator (admin token): API tokens, usage of everyone, guardrail flags."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query

from miolumi.core.cost.usage import Group, parse_since
from miolumi.core.guardrails import Category
from miolumi.server import schemas, tokens
from miolumi.server.routes_user import forgotten_view, usage_lines
from miolumi.server.state import Admin, State

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Admin])


def _token_view(info: tokens.TokenInfo) -> schemas.TokenView:
    return schemas.TokenView(
        id=info.id,
        user_id=info.user_id,
        label=info.label,
        created_at=info.created_at,
        revoked=info.revoked,
    )


@router.post("/tokens", status_code=201)
async def create_token(body: schemas.TokenRequest, state: State) -> schemas.IssuedTokenView:
    """Issue an API token for a user; the token is in this response only."""
    issued = await asyncio.to_thread(
        tokens.issue, state.runtime.engine, user_id=body.user_id, label=body.label
    )
    view = _token_view(issued.info)
    return schemas.IssuedTokenView(**view.model_dump(), token=issued.token)


@router.get("/tokens")
async def list_tokens(state: State, user_id: str | None = None) -> list[schemas.TokenView]:
    """Tokens (without their secrets), newest first."""
    found = await asyncio.to_thread(tokens.tokens, state.runtime.engine, user_id=user_id)
    return [_token_view(t) for t in found]


@router.delete("/tokens/{token_id}")
async def revoke_token(token_id: str, state: State) -> schemas.TokenView:
    """Revoke a token: requests carrying it are refused from now on."""
    return _token_view(await asyncio.to_thread(tokens.revoke, state.runtime.engine, token_id))


@router.delete("/users/{user_id}")
async def forget_a_user(user_id: str, state: State) -> schemas.ForgottenView:
    """Forget a user entirely (what ``DELETE /v1/me`` does, for the operator)."""
    return await forgotten_view(state, user_id)


@router.get("/usage")
async def allusage_lines(
    state: State,
    since: str = Query(default="30d", description="A span (7d, 24h) or a date."),
    by: Group = "user",
    user_id: str | None = None,
) -> list[schemas.UsageLineView]:
    """What every user's conversations cost, grouped."""
    return await usage_lines(state, since=since, by=by, user_id=user_id)


@router.get("/flags")
async def flags(
    state: State,
    user_id: str | None = None,
    agent_id: str | None = Query(default=None, description="A Mio persona's flags only."),
    category: Category | None = None,
    since: str = Query(default="30d", description="A span (7d, 24h) or a date."),
    limit: int = Query(default=200, ge=1, le=5000),
) -> list[schemas.FlagView]:
    """Guardrail flags and blocks, newest first (no message text is ever stored)."""
    store = state.runtime.services.guardrails.flags
    if store is None:
        return []
    found = await asyncio.to_thread(
        store.flags,
        user_id=user_id,
        agent_id=agent_id,
        category=category,
        since=parse_since(since),
        limit=limit,
    )
    return [
        schemas.FlagView(
            at=f.at,
            user_id=f.user_id,
            agent_id=f.agent_id,
            stage=f.stage,
            category=f.category,
            score=f.score,
            action=f.action,
        )
        for f in found
    ]
