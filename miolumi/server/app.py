"""The ASGI app: REST under /v1, the WebSocket at /v1/ws, the orb page at /.

``create_app()`` builds it from the environment (``uvicorn --factory
miolumi.server.app:create_app`` or ``miolumi serve``); embedding apps and tests pass
their own `Services`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import RequestResponseEndpoint

from miolumi import __version__
from miolumi.errors import MiolumiError
from miolumi.server import routes_admin, routes_chat, routes_user, ws
from miolumi.server.errors import handle_miolumi_error
from miolumi.server.ratelimit import RateLimiter
from miolumi.server.state import ServerState
from miolumi.services import Services
from miolumi.session import Runtime

STATIC = Path(str(files("miolumi.server") / "static"))


def create_app(services: Services | None = None) -> FastAPI:
    """The miolumi server app; ``services`` default to the process's, from the environment."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        used = services or Services.create()
        settings = used.settings
        limiter = RateLimiter(limit=settings.rate_limit, storage=settings.rate_limit_storage)
        async with Runtime.open(used, warm=True) as runtime:
            app.state.miolumi = ServerState(runtime=runtime, limiter=limiter)
            yield

    app = FastAPI(
        title="miolumi",
        version=__version__,
        summary="AI companions: Mio, a circle of personas, and Lumi, an orb of light.",
        lifespan=lifespan,
    )
    app.add_exception_handler(MiolumiError, handle_miolumi_error)

    @app.middleware("http")
    async def worker_header(request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["X-Miolumi-Worker"] = str(os.getpid())
        return response

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok", "version": __version__}

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.include_router(routes_chat.router)
    app.include_router(routes_user.router)
    app.include_router(routes_admin.router)
    app.include_router(ws.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
