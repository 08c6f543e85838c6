"""The persona model: what a Mio persona is, validated at the edge (files, plugins, cards).

Persona files are TOML (see ``presets/``). Unknown keys, missing fields and wrong types
are errors that name the file and the key. A persona that leaves out ``[relationship]``
gets the default ladder ``strangers -> flirting -> lovers``.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from miolumi.core.relationship import Axis, Ladder, Stage
from miolumi.errors import PluginError

PersonaId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
Intensity = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VoiceHint(_Model):
    """How a persona should sound in one language; TTS engines pick a voice from it."""

    gender: Literal["female", "male", "neutral"]
    age: Literal["young adult", "adult", "middle-aged", "elderly", "ageless"] = "adult"
    pitch: Literal["low", "medium", "high"] = "medium"
    pace: Literal["slow", "medium", "fast"] = "medium"
    timbre: str = ""
    """Free words for the colour of the voice: "warm, slightly husky"."""
    accent: str = ""
    voices: tuple[str, ...] = ()
    """Preferred voices as ``engine:voice`` (``edge:zh-CN-XiaoyiNeural``), best first."""


class Style(_Model):
    """How a persona talks."""

    description: Text
    quirks: tuple[Text, ...] = ()
    """Verbal habits that make the persona recognisable."""
    example_lines: tuple[Text, ...] = ()
    """Lines in the persona's voice, shown to the model as a sample of its manner."""
    avoid: tuple[Text, ...] = ()
    """Things this persona never sounds like."""


class StageConfig(_Model):
    """One rung of a persona's relationship ladder."""

    id: PersonaId
    label: Text
    romantic: bool = False
    requires: dict[Axis, Intensity] = Field(default_factory=dict)
    """Minimum affection / trust / familiarity to enter the stage."""
    behaviour: Text
    """How the persona treats the user at this stage (goes into the prompt)."""


DEFAULT_STAGES: tuple[StageConfig, ...] = (
    StageConfig(
        id="strangers",
        label="Strangers",
        behaviour="You have only just met. Be friendly and curious, keep a polite distance, "
        "no flirting; learn who they are before assuming closeness.",
    ),
    StageConfig(
        id="flirting",
        label="Flirting",
        romantic=True,
        requires={"affection": 0.35, "trust": 0.25, "familiarity": 0.3},
        behaviour="There is a spark. Tease lightly, let warmth show, pay compliments that "
        "are specific to them; stay playful rather than intense.",
    ),
    StageConfig(
        id="lovers",
        label="Lovers",
        romantic=True,
        requires={"affection": 0.7, "trust": 0.6, "familiarity": 0.6},
        behaviour="You are together. Be openly affectionate and devoted, remember shared "
        "moments, say you missed them; tender, never explicit.",
    ),
)


class RelationshipConfig(_Model):
    """A persona's relationship ladder, lowest stage first."""

    stages: tuple[StageConfig, ...] = Field(default=DEFAULT_STAGES, min_length=1)
    hysteresis: float = Field(default=0.08, ge=0.0, le=0.3)
    """How far below a stage's requirement an axis may fall before the stage is lost."""

    @model_validator(mode="after")
    def _check_ladder(self) -> RelationshipConfig:
        first = self.stages[0]
        if first.requires or first.romantic:
            raise ValueError(f"the first stage {first.id!r} must be non-romantic, no 'requires'")
        ids = [s.id for s in self.stages]
        if len(set(ids)) != len(ids):
            raise ValueError(f"stage ids must be unique, got {ids}")
        for lower, upper in zip(self.stages, self.stages[1:], strict=False):
            for axis, level in lower.requires.items():
                if upper.requires.get(axis, 0.0) < level:
                    raise ValueError(
                        f"stage {upper.id!r} must require at least {axis} {level} "
                        f"(as {lower.id!r} does)"
                    )
        return self

    def ladder(self) -> Ladder:
        """The engine's view of this ladder."""
        return Ladder(
            stages=tuple(
                Stage(id=s.id, label=s.label, romantic=s.romantic, requires=dict(s.requires))
                for s in self.stages
            ),
            hysteresis=self.hysteresis,
        )

    def stage(self, stage_id: str) -> StageConfig:
        """The stage with this id (the first stage when unknown)."""
        return next((s for s in self.stages if s.id == stage_id), self.stages[0])


class Persona(_Model):
    """A Mio persona's identity, voice, manner, limits and relationship ladder."""

    id: PersonaId
    display_name: Text
    version: str = Field(default="1", min_length=1, max_length=64)
    """Bumped by the author when the persona changes meaningfully."""
    languages: tuple[Language, ...] = Field(default=("en",), min_length=1)
    """Languages the persona speaks, the one it prefers first."""
    age: int | None = Field(default=None, ge=18, le=150)
    """The persona's age, if it has one; personas are always adults."""
    tagline: str = ""
    greeting: str = ""
    personality: dict[str, Intensity] = Field(default_factory=dict)
    """Trait name to intensity in 0..1."""
    voice: dict[Language, VoiceHint] = Field(default_factory=dict)
    """TTS voice hints per language."""
    backstory: str = ""
    style: Style
    boundaries: tuple[Text, ...] = ()
    relationship: RelationshipConfig = Field(default_factory=RelationshipConfig)

    @model_validator(mode="after")
    def _check_voices(self) -> Persona:
        unknown = sorted(set(self.voice) - set(self.languages))
        if unknown:
            raise ValueError(
                f"voice hints for {unknown} but languages are {list(self.languages)}: "
                "add the language or remove the hint"
            )
        return self

    @property
    def language(self) -> str:
        """The persona's first language."""
        return self.languages[0]

    def config_json(self) -> str:
        """The canonical JSON of this persona (sorted keys), as stored in ``agents``."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)

    def config_hash(self) -> str:
        """SHA-256 of :meth:`config_json`."""
        return hashlib.sha256(self.config_json().encode("utf-8")).hexdigest()

    def to_toml(self) -> str:
        """The persona as a TOML file that :func:`load_persona_file` reads back."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        data.setdefault("id", self.id)
        data.setdefault("display_name", self.display_name)
        return tomli_w.dumps(_toml_ready(data), multiline_strings=True)


def _toml_ready(value: Any) -> Any:
    """TOML has no null: drop None values (they are the defaults)."""
    if isinstance(value, dict):
        return {k: _toml_ready(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_toml_ready(v) for v in value]
    return value


def validation_message(exc: ValidationError, where: str) -> str:
    """One line naming ``where``, the first bad key and what is wrong with it."""
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    msg = re.sub(r"\s+", " ", first["msg"])
    more = len(exc.errors()) - 1
    tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"Invalid persona {where}: key {key!r}: {msg}{tail}. Fix the file."


def load_persona_file(path: Path) -> Persona:
    """Read and validate a persona TOML file, raising `PluginError` naming file and key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PluginError(f"Cannot read persona file {path}: {exc}. Fix the file.") from exc
    try:
        return Persona.model_validate(data)
    except ValidationError as exc:
        raise PluginError(validation_message(exc, f"file {path}")) from exc
