"""The miolumi server: REST, the WebSocket protocol, per-user auth and the orb web page."""

from miolumi.server.app import create_app

__all__ = ["create_app"]
