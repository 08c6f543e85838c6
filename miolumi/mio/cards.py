"""Character Card V2 / V3 (the SillyTavern format): import as personas, export back.

A card is JSON (``{"spec": "chara_card_v2" | "chara_card_v3", "data": {...}}``), alone
or embedded base64 in a PNG ``tEXt`` chunk (``chara`` for V2, ``ccv3`` for V3).
Exported cards carry the full persona under ``data.extensions.miolumi`` so they
come back unchanged; cards from elsewhere are mapped field by field, and the fields a
persona cannot hold (lorebooks, prompt overrides) are reported as ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import unicodedata
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from miolumi.errors import CardError
from miolumi.mio import png
from miolumi.mio.persona import Persona, Style

Spec = Literal["v2", "v3"]
SPECS = {"chara_card_v2": "v2", "chara_card_v3": "v3"}

#: Boundaries every imported persona gets, whatever its card says.
IMPORTED_BOUNDARIES = (
    "Never pretends to be human if sincerely asked; stays in character otherwise.",
    "No sexual content, no cruelty; romance stays tender and only with adults.",
)
_IGNORED_FIELDS = (
    "system_prompt",
    "post_history_instructions",
    "character_book",
    "alternate_greetings",
    "group_only_greetings",
    "assets",
)


class CardData(BaseModel):
    """The ``data`` object of a V2 or V3 card (fields this importer reads)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    creator_notes: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: list[str] = Field(default_factory=list)
    character_book: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    creator: str = ""
    character_version: str = ""
    extensions: dict[str, Any] = Field(default_factory=dict)
    nickname: str | None = None
    group_only_greetings: list[str] = Field(default_factory=list)
    assets: list[dict[str, Any]] | None = None


@dataclass(frozen=True, kw_only=True)
class Imported:
    """A persona made from a card, and what was left behind."""

    persona: Persona
    spec: Spec
    ignored: tuple[str, ...]


# --- reading ----------------------------------------------------------------------------------


def read_card(path: Path) -> tuple[dict[str, Any], Spec]:
    """Read a card from a JSON or PNG file; returns the card object and its spec."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CardError(f"Cannot read {path}: {exc.strerror}. Check the path.") from exc
    if raw.startswith(png.SIGNATURE):
        text = _card_text_from_png(raw, path)
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CardError(
                f"{path} is neither a PNG nor UTF-8 JSON: export the card again."
            ) from exc
    try:
        card = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CardError(
            f"{path} does not hold valid card JSON ({exc.msg}): export it again."
        ) from exc
    if not isinstance(card, dict) or card.get("spec") not in SPECS:
        raise CardError(
            f"{path} is not a Character Card V2 or V3 (no spec 'chara_card_v2' or "
            "'chara_card_v3'): re-export it from your tool as V2 or V3."
        )
    return card, SPECS[card["spec"]]  # type: ignore[return-value]


def _card_text_from_png(raw: bytes, path: Path) -> str:
    try:
        entries = {k.lower(): v for k, v in png.text_chunks(raw).items()}
    except png.PngFormatError as exc:
        raise CardError(f"{path} is a damaged PNG ({exc}): export the card again.") from exc
    encoded = entries.get("ccv3") or entries.get("chara")
    if encoded is None:
        raise CardError(
            f"{path} has no character card inside (no 'chara' or 'ccv3' text chunk): "
            "export the card as PNG with the card embedded, or as JSON."
        )
    try:
        return base64.b64decode(encoded, validate=False).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise CardError(
            f"The card inside {path} is not valid base64 JSON: export it again."
        ) from exc


def slug(name: str) -> str:
    """A persona id from a name: lower-case ASCII words joined by ``-`` (may be empty)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64]


def _languages(text: str) -> tuple[str, ...]:
    if re.search(r"[\u3040-\u30ff]", text):
        return ("ja", "en")
    if re.search(r"[\u4e00-\u9fff]", text):
        return ("zh", "en")
    return ("en",)


def _traits(personality: str) -> dict[str, float]:
    parts = [p.strip(" .") for p in re.split(r"[,;/\n、，；]", personality)]
    words = [p.lower() for p in parts if p and len(p) <= 30 and len(p.split()) <= 3]
    return dict.fromkeys(words[:10], 0.7)


def _examples(mes_example: str, first_mes: str) -> tuple[str, ...]:
    lines = []
    for line in mes_example.splitlines():
        match = re.match(r"\s*\{\{char\}\}\s*:\s*(.+)", line, flags=re.IGNORECASE)
        if match:
            lines.append(match.group(1).strip())
    if not lines and first_mes.strip():
        lines.append(first_mes.strip())
    return tuple(lines[:6])


def _fill(text: str, name: str) -> str:
    text = re.sub(r"\{\{char\}\}", name, text, flags=re.IGNORECASE)
    return re.sub(r"\{\{user\}\}", "you", text, flags=re.IGNORECASE).strip()


def card_to_persona(card: dict[str, Any], *, persona_id: str | None = None) -> Imported:
    """Make a persona from a card object; ``persona_id`` overrides the id made from its name."""
    spec: Spec = SPECS.get(str(card.get("spec")), "v2")  # type: ignore[assignment]
    try:
        data = CardData.model_validate(card.get("data"))
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "data"
        raise CardError(f"The card's data.{key} is invalid: {first['msg']}. Fix the card.") from exc
    embedded = data.extensions.get("miolumi", {}).get("persona")
    try:
        if isinstance(embedded, dict):
            persona = Persona.model_validate(embedded)
            if persona_id:
                persona = persona.model_copy(update={"id": persona_id})
            return Imported(
                persona=Persona.model_validate(persona.model_dump()), spec=spec, ignored=()
            )
        return _mapped(data, spec, persona_id)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise CardError(
            f"The persona made from card {data.name!r} is invalid: key {key!r}: {first['msg']}. "
            "Choose a valid id with --id, or fix the card."
        ) from exc


def _mapped(data: CardData, spec: Spec, persona_id: str | None) -> Imported:
    name = data.name.strip()
    pid = persona_id or slug(name) or f"card-{zlib.crc32(name.encode()):08x}"
    description = _fill(data.description, name)
    story = "\n\n".join(t for t in (description, _fill(data.scenario, name)) if t)
    personality = _fill(data.personality, name)
    first_sentence = re.split(r"(?<=[.!?。！？])\s*", description, maxsplit=1)[0]
    persona = Persona.model_validate(
        {
            "id": pid,
            "display_name": (data.nickname or name).strip(),
            "version": data.character_version or "1",
            "languages": _languages(" ".join((name, description, data.first_mes))),
            "tagline": first_sentence[:160],
            "greeting": _fill(data.first_mes, name),
            "personality": _traits(personality),
            "backstory": story,
            "style": Style(
                description=personality or f"Speaks as {name} does in the card's examples.",
                example_lines=tuple(
                    _fill(x, name) for x in _examples(data.mes_example, data.first_mes)
                ),
            ),
            "boundaries": IMPORTED_BOUNDARIES,
        }
    )
    present = data.model_dump()
    ignored = tuple(f for f in _IGNORED_FIELDS if present.get(f))
    return Imported(persona=persona, spec=spec, ignored=ignored)


# --- writing ----------------------------------------------------------------------------------


def persona_to_card(persona: Persona, *, spec: Spec = "v2") -> dict[str, Any]:
    """A V2 or V3 card object for a persona, with the full persona under extensions."""
    examples = "\n".join(f"{{{{char}}}}: {line}" for line in persona.style.example_lines)
    data: dict[str, Any] = {
        "name": persona.display_name,
        "description": persona.backstory.strip(),
        "personality": ", ".join(persona.personality) or persona.style.description,
        "scenario": "",
        "first_mes": persona.greeting,
        "mes_example": f"<START>\n{examples}" if examples else "",
        "creator_notes": persona.tagline,
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": [],
        "tags": [*persona.languages, "miolumi"],
        "creator": "miolumi",
        "character_version": persona.version,
        "extensions": {"miolumi": {"persona": persona.model_dump(mode="json")}},
    }
    if spec == "v2":
        return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}
    now = int(time.time())
    data.update(
        {
            "nickname": persona.display_name,
            "creator_notes_multilingual": {},
            "source": [],
            "group_only_greetings": [],
            "creation_date": now,
            "modification_date": now,
            "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        }
    )
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}


def _b64(card: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8")).decode("ascii")


def card_png(persona: Persona, *, spec: Spec = "v2", image: bytes | None = None) -> bytes:
    """A PNG with the card embedded (V3 also carries a V2 copy for older tools)."""
    entries = {"chara": _b64(persona_to_card(persona, spec="v2"))}
    if spec == "v3":
        entries["ccv3"] = _b64(persona_to_card(persona, spec="v3"))
    return png.with_text(image or png.plain_card(persona.id), entries)


def card_json(persona: Persona, *, spec: Spec = "v2") -> str:
    """The card as pretty JSON text."""
    return json.dumps(persona_to_card(persona, spec=spec), ensure_ascii=False, indent=2) + "\n"
