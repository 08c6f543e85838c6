"""The server edge: domain errors become an HTTP status and a JSON body, or an error frame.

Body of every error response::

    {"error": {"code": "thread_busy", "message": "Another turn on thread ... is running: ..."}}

``code`` is stable (from the error's class), ``message`` names the fix.
"""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import JSONResponse

from miolumi.errors import (
    AuthError,
    BudgetExceededError,
    ConversationNotFoundError,
    InputError,
    MemoryNotFoundError,
    MiolumiError,
    ModelError,
    RateLimitedError,
    SnapshotNotFoundError,
    StorageError,
    ThreadBusyError,
    ThreadOwnershipError,
    UnknownPersonaError,
    VoiceError,
)

#: Most specific first: the first class an error is an instance of decides its status.
_STATUS: tuple[tuple[type[MiolumiError], int], ...] = (
    (AuthError, 401),
    (RateLimitedError, 429),
    (ThreadOwnershipError, 404),
    (ConversationNotFoundError, 404),
    (UnknownPersonaError, 404),
    (MemoryNotFoundError, 404),
    (SnapshotNotFoundError, 404),
    (ThreadBusyError, 409),
    (BudgetExceededError, 402),
    (InputError, 422),
    (ModelError, 502),
    (VoiceError, 502),
    (StorageError, 503),
)


def error_code(exc: BaseException) -> str:
    """``ThreadBusyError`` -> ``thread_busy``."""
    name = type(exc).__name__.removesuffix("Error") or "miolumi"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def status_of(exc: MiolumiError) -> int:
    """The HTTP status of a domain error (400 for any not listed)."""
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    """The JSON body of an error response."""
    return {"error": {"code": code, "message": message}}


async def handle_miolumi_error(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI exception handler for `MiolumiError`."""
    assert isinstance(exc, MiolumiError)
    headers = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(round(exc.retry_after))
    if isinstance(exc, AuthError):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        error_body(error_code(exc), str(exc)), status_code=status_of(exc), headers=headers
    )
