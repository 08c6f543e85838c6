"""What the server shares between requests, and the dependencies that hand it out."""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from miolumi.config import Product
from miolumi.errors import AuthError, ConversationNotFoundError, ThreadOwnershipError
from miolumi.server import tokens
from miolumi.server.ratelimit import RateLimiter
from miolumi.session import ChatSession, Runtime


@dataclass(frozen=True, kw_only=True)
class ServerState:
    """The runtime (services, database, graphs) and the rate limiter of one server process."""

    runtime: Runtime
    limiter: RateLimiter

    async def user_of(self, token: str) -> str:
        """The user a token belongs to (`AuthError` if none)."""
        return await asyncio.to_thread(tokens.verify, self.runtime.engine, token)

    def is_admin(self, token: str) -> bool:
        """Whether ``token`` is the operator's admin token."""
        admin = self.runtime.services.settings.admin_token
        return admin is not None and hmac.compare_digest(
            token.encode("utf-8"), admin.get_secret_value().encode("utf-8")
        )

    async def session(
        self,
        *,
        user_id: str,
        product: Product,
        agent_id: str | None = None,
        thread_id: str | None = None,
        new_thread: bool = False,
        locale: str | None = None,
    ) -> ChatSession:
        """A session of the user's; a thread of anyone else's is 'not found', never 'not yours'."""
        try:
            session = await self.runtime.session(
                user_id=user_id,
                product=product,
                agent_id=agent_id,
                thread_id=thread_id,
                locale=locale,
            )
        except ThreadOwnershipError:
            raise ConversationNotFoundError(
                f"No conversation {thread_id!r} of yours with this companion: list yours with "
                "GET /v1/conversations, or leave thread_id out to continue the latest."
            ) from None
        if new_thread:
            session.new_thread()
        return session


def server_state(request: Request) -> ServerState:
    """The server's shared state (set by the app's lifespan)."""
    state: ServerState = request.app.state.miolumi
    return state


State = Annotated[ServerState, Depends(server_state)]
_bearer = HTTPBearer(auto_error=False, description="An API token: mlt_...")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise AuthError(
            "This needs an API token: send 'Authorization: Bearer mlt_...' "
            "(the operator creates one with miolumi token create --user NAME)."
        )
    return credentials.credentials


async def current_user(state: State, credentials: Credentials) -> str:
    """The authenticated user, counted against their rate limit."""
    user_id = await state.user_of(_token(credentials))
    await state.limiter.hit(user_id)
    return user_id


async def require_admin(state: State, credentials: Credentials) -> None:
    """Refuse anything but the operator's admin token."""
    if not state.is_admin(_token(credentials)):
        raise AuthError(
            "This is an operator endpoint: send the admin token (MIOLUMI_ADMIN_TOKEN) "
            "as 'Authorization: Bearer ...'."
        )


UserId = Annotated[str, Depends(current_user)]
Admin = Depends(require_admin)
