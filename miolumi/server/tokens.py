"""Per-user API tokens: issued once, kept as SHA-256 digests, revocable.

A token is ``mlt_<id>_<secret>``: the id is public (listing, revoking), the secret is 32
random bytes. Being random, not chosen by a person, a plain SHA-256 digest is enough to
keep a stolen database from yielding usable tokens; a slow password hash would add
latency to every request and no safety.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from miolumi.db.schema_core import User, utcnow
from miolumi.db.schema_server import ApiToken
from miolumi.errors import AuthError, InputError

PREFIX = "mlt_"


@dataclass(frozen=True, kw_only=True)
class TokenInfo:
    """A token as listed: never its secret."""

    id: str
    user_id: str
    label: str
    created_at: datetime
    revoked: bool


@dataclass(frozen=True, kw_only=True)
class IssuedToken:
    """A new token: ``token`` is shown once and cannot be recovered."""

    token: str
    info: TokenInfo


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        user_id=row.user_id,
        label=row.label,
        created_at=row.created_at,
        revoked=row.revoked_at is not None,
    )


def issue(engine: Engine, *, user_id: str, label: str = "") -> IssuedToken:
    """Create a token for ``user_id`` (creating the user if new)."""
    if not user_id.strip() or len(user_id) > 128:
        raise InputError("A user id is 1 to 128 characters: choose another user id.")
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    with Session(engine) as session, session.begin():
        if session.get(User, user_id) is None:
            session.add(User(id=user_id, created_at=utcnow()))
            session.flush()
        row = ApiToken(
            id=token_id,
            user_id=user_id,
            digest=_digest(token),
            label=label[:128],
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return IssuedToken(token=token, info=_info(row))


def verify(engine: Engine, token: str) -> str:
    """The user a live token belongs to; `AuthError` for an unknown or revoked one."""
    if not token.startswith(PREFIX):
        raise AuthError(
            "That is not a miolumi API token (they start with mlt_): ask the operator for "
            "one (miolumi token create --user NAME)."
        )
    with Session(engine) as session:
        row = session.scalars(select(ApiToken).where(ApiToken.digest == _digest(token))).first()
    if row is None or row.revoked_at is not None:
        raise AuthError(
            "Unknown or revoked API token: ask the operator for a new one "
            "(miolumi token create --user NAME)."
        )
    return row.user_id


def tokens(engine: Engine, *, user_id: str | None = None) -> list[TokenInfo]:
    """Tokens, newest first; only ``user_id``'s when given."""
    query = select(ApiToken).order_by(ApiToken.created_at.desc())
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    with Session(engine) as session:
        return [_info(row) for row in session.scalars(query)]


def revoke(engine: Engine, token_id: str) -> TokenInfo:
    """Revoke a token by id (idempotent); `InputError` if there is no such token."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        row = session.get(ApiToken, token_id)
        if row is None:
            raise InputError(f"No token {token_id!r}: list them with miolumi token list.")
        return _info(row)
