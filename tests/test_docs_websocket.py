"""docs/websocket.md stays true to the code: every frame type is documented, examples parse."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

from miolumi import events
from miolumi.server.protocol import CLIENT_TYPES

DOC = Path(__file__).resolve().parents[1] / "docs" / "websocket.md"
#: Frames the server adds around a turn's events.
SERVER_ONLY = {"ready", "turn_start", "transcript", "interrupted", "pong"}


def _table_types(heading: str) -> set[str]:
    section = DOC.read_text().split(heading, 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))


def _event_types() -> set[str]:
    types = set()
    for member in typing.get_args(events.Event):
        literal = typing.get_type_hints(member)["type"]
        types.update(typing.get_args(literal))
    return types


def test_every_client_frame_is_documented() -> None:
    assert _table_types("## Client frames") == set(CLIENT_TYPES)


def test_every_server_frame_is_documented() -> None:
    assert _table_types("## Server frames") == _event_types() | SERVER_ONLY


def test_the_examples_are_frames() -> None:
    blocks = re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    frames = [json.loads(line) for block in blocks for line in block.splitlines() if line]
    documented = _event_types() | SERVER_ONLY | set(CLIENT_TYPES)
    assert len(frames) >= 10
    for frame in frames:
        assert frame["type"] in documented, frame
