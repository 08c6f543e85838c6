"""Just enough PNG for character cards: read and write ``tEXt`` chunks, draw a plain card.

Character cards (SillyTavern and friends) carry their JSON, base64-encoded, in a
``tEXt`` chunk named ``chara`` (V2) or ``ccv3`` (V3).
"""

from __future__ import annotations

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PngFormatError(ValueError):
    """The bytes are not a well-formed PNG."""


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The ``(type, payload)`` chunks of a PNG, CRCs checked."""
    if not data.startswith(SIGNATURE):
        raise PngFormatError("not a PNG file (bad signature)")
    out: list[tuple[bytes, bytes]] = []
    pos = len(SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        payload = data[pos + 8 : pos + 8 + length]
        if len(payload) != length or pos + 12 + length > len(data):
            raise PngFormatError(f"chunk {kind!r} is truncated")
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        if crc != zlib.crc32(kind + payload):
            raise PngFormatError(f"chunk {kind!r} has a bad checksum")
        out.append((kind, payload))
        pos += 12 + length
        if kind == b"IEND":
            return out
    raise PngFormatError("the PNG ends without an IEND chunk")


def text_chunks(data: bytes) -> dict[str, str]:
    """The ``tEXt`` (and uncompressed ``iTXt``) entries of a PNG, keyword to text."""
    found: dict[str, str] = {}
    for kind, payload in chunks(data):
        if kind == b"tEXt":
            key, _, text = payload.partition(b"\0")
            found[key.decode("latin-1")] = text.decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = payload.partition(b"\0")
            if rest[:1] == b"\0":  # not compressed
                _lang, _, rest = rest[2:].partition(b"\0")
                _translated, _, text = rest.partition(b"\0")
                found[key.decode("latin-1")] = text.decode("utf-8")
    return found


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload))
    )


def with_text(data: bytes, entries: dict[str, str]) -> bytes:
    """``data`` (a PNG) with ``tEXt`` entries set, replacing entries of the same keyword."""
    kept = [
        (kind, payload)
        for kind, payload in chunks(data)
        if not (kind == b"tEXt" and payload.partition(b"\0")[0].decode("latin-1") in entries)
    ]
    texts = [
        (b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
        for key, value in entries.items()
    ]
    ordered = [*kept[:1], *texts, *kept[1:]]  # right after IHDR
    return SIGNATURE + b"".join(_chunk(kind, payload) for kind, payload in ordered)


def plain_card(seed: str, *, width: int = 256, height: int = 384) -> bytes:
    """A small portrait-shaped PNG, a vertical gradient in colours derived from ``seed``."""
    digest = zlib.crc32(seed.encode("utf-8"))
    top = ((digest >> 16) & 0xFF, (digest >> 8) & 0xFF, digest & 0xFF)
    bottom = tuple(255 - c // 2 for c in top)
    rows = []
    for y in range(height):
        t = y / max(1, height - 1)
        pixel = bytes(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\0" + pixel * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
    return SIGNATURE + body + _chunk(b"IEND", b"")
