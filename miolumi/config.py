"""Settings: environment variables ``MIOLUMI_*``, an optional TOML file, a data directory.

Precedence, highest first: arguments given in code, environment variables, the TOML
file (``$MIOLUMI_CONFIG``, else ``<home>/config.toml``), defaults. The usual
``OPENAI_API_KEY`` / ``OPENAI_BASE_URL`` / ``OPENAI_MODEL`` variables are read when the
``MIOLUMI_`` ones are absent.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from miolumi.errors import ConfigError

ENV_PREFIX = "MIOLUMI_"
#: Kinds of metered calls, the first part of a key of the ``prices`` table.
Product = Literal["mio", "lumi"]
"""The two products: Mio (a circle of personas) and Lumi (one emergent companion)."""
COST_KINDS = frozenset({"llm", "embedding", "tts", "stt", "vision"})
#: Units a price in the ``prices`` table can be given for (USD per unit).
PRICE_UNITS = frozenset({"input_tokens", "output_tokens", "characters", "audio_seconds", "images"})
#: Environment variables with the prefix that are not settings fields (the test suite's
#: servers, from .ci/services, may stay exported in a developer's shell).
_NON_FIELD_ENV = {"MIOLUMI_CONFIG", "MIOLUMI_TEST_DATABASE_URL", "MIOLUMI_TEST_CHROMA_URL"}


def default_home() -> Path:
    """Return the data directory: ``$MIOLUMI_HOME`` or the platform's user data dir."""
    env = os.environ.get("MIOLUMI_HOME")
    return Path(env).expanduser() if env else platformdirs.user_data_path("miolumi")


def config_file_path() -> Path:
    """Return the TOML config file's path (which need not exist)."""
    env = os.environ.get("MIOLUMI_CONFIG")
    return Path(env).expanduser() if env else default_home() / "config.toml"


class Settings(BaseSettings):
    """The effective configuration of one miolumi process."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
        populate_by_name=True,
    )

    home: Path = Field(default_factory=default_home, description="Data directory.")
    model: str | None = Field(
        default=None,
        validation_alias=AliasChoices("model", "MIOLUMI_MODEL", "OPENAI_MODEL"),
        description="Chat model as 'provider:name' or a bare name; unset means the local model.",
    )
    base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "base_url", "MIOLUMI_BASE_URL", "OPENAI_BASE_URL", "OPENAI_API_BASE"
        ),
        description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("api_key", "MIOLUMI_API_KEY", "OPENAI_API_KEY"),
        description="API key of the endpoint.",
    )
    provider: str | None = Field(
        default=None, description="Force a provider by name (default: chosen from the model)."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; unset means SQLite files in the data directory.",
    )
    temperature: float = Field(default=0.7, ge=0.0, le=2.0, description="Sampling temperature.")
    max_tokens: int = Field(default=384, ge=1, le=32_768, description="Reply length cap.")
    request_timeout: float = Field(default=60.0, gt=0, description="Seconds per model call.")
    max_retries: int = Field(
        default=1, ge=0, le=10, description="Retries of a model call that failed."
    )
    max_message_chars: int = Field(default=32_000, ge=1, description="Longest user message.")
    history_messages: int = Field(
        default=24, ge=2, le=1_000, description="Messages a thread keeps in its context window."
    )
    local_model_path: Path | None = Field(
        default=None, description="GGUF file for the local model (default: SmolLM2-135M)."
    )
    local_context: int = Field(default=4096, ge=512, description="Local model context tokens.")
    local_threads: int | None = Field(default=None, ge=1, description="Local model threads.")
    seed: int | None = Field(default=None, description="Sampling seed for reproducible replies.")
    load_plugins: str | None = Field(
        default=None,
        description="Comma-separated plugin names to load from entry points ('' loads none).",
    )
    trace_plugins: bool = Field(default=False, description="Log every hook call to stderr.")
    chroma_url: str | None = Field(
        default=None,
        description="Chroma server URL (http://host:8000) for memories; unset keeps them in "
        "a local Chroma directory under the data dir.",
    )
    chroma_database: str | None = Field(
        default=None,
        min_length=3,
        max_length=63,
        description="Database on the Chroma server (created if missing), so several "
        "deployments can share one server; unset uses the server's default database.",
    )
    embeddings: str = Field(
        default="use-m3",
        description="Memory embeddings: 'use-m3' (bundled, multilingual), 'e5-small' (needs "
        "the e5 extra) or 'openai:<model>' (the configured endpoint).",
    )
    classifier_embeddings: bool = Field(
        default=True,
        description="When memory embeds with another model than use-m3, the guardrails and "
        "emotion classifiers still read each message's bundled use-m3 embedding, computed for "
        "them (about 3 ms a message); false reads the words alone, which finds fewer harmful "
        "requests and people in crisis.",
    )
    memory_weights: dict[str, float] = Field(
        default_factory=dict,
        description="Relevance weights overriding the defaults (names in "
        "miolumi.core.memory.relevance), e.g. {'lexical': 0.6, 'recency': 0.1}.",
    )
    memory_extraction: Literal["auto", "llm", "rules", "off"] = Field(
        default="auto",
        description="How memories are written after a turn: 'auto' uses the chat model when it is "
        "a remote one and rules otherwise; 'off' writes nothing.",
    )
    prices: dict[str, dict[str, Decimal]] = Field(
        default_factory=dict,
        description="USD per unit overriding the built-in price table, keyed "
        "'kind:provider:model' (model may be '*'), e.g. "
        "{'tts:openai:tts-1': {'characters': '0.000015'}}.",
    )
    budget_user_daily_usd: Decimal | None = Field(
        default=None, ge=0, description="Most one user may spend per UTC day (unset: no cap)."
    )
    budget_user_monthly_usd: Decimal | None = Field(
        default=None, ge=0, description="Most one user may spend per UTC month (unset: no cap)."
    )
    budget_global_daily_usd: Decimal | None = Field(
        default=None, ge=0, description="Most all users together may spend per UTC day."
    )
    budget_global_monthly_usd: Decimal | None = Field(
        default=None, ge=0, description="Most all users together may spend per UTC month."
    )
    budget_warn_at: float = Field(
        default=0.8, gt=0, le=1, description="Share of a cap from which turns emit a warning."
    )
    budget_degrade_at: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Share of a cap from which turns use budget_degrade_model (unset: never).",
    )
    budget_on_cap: Literal["stop", "degrade", "warn"] = Field(
        default="stop",
        description="At a cap: 'stop' refuses paid calls (the companion says so kindly), "
        "'degrade' switches to budget_degrade_model (still refused if that would cross the "
        "cap), 'warn' lets calls go on and only warns.",
    )
    budget_degrade_model: str | None = Field(
        default=None, description="Cheaper model ('provider:name') used when degrading."
    )
    voice: bool = Field(
        default=False,
        description="Speak replies: audio events while the reply streams (`chat --voice`).",
    )
    tts_engines: str | None = Field(
        default=None,
        description="Comma-separated TTS engines to use, in order of preference (default: "
        "every available one: openai, piper, kokoro, openjtalk, espeak).",
    )
    tts_model: str | None = Field(
        default=None,
        description="Speech model of the OpenAI-compatible /audio/speech endpoint, e.g. "
        "tts-1 (unset: no remote speech).",
    )
    stt_model: str | None = Field(
        default=None,
        description="Transcription model of the OpenAI-compatible /audio/transcriptions "
        "endpoint, e.g. whisper-1 (unset: the offline engine, if installed).",
    )
    voice_base_url: str | None = Field(
        default=None, description="Endpoint for speech and transcription (default: base_url)."
    )
    voice_api_key: SecretStr | None = Field(
        default=None, description="Key of the speech endpoint (default: api_key)."
    )
    emotion_mode: Literal["local", "llm"] = Field(
        default="local",
        description="How the user's emotion is read: 'local' (offline classifier) or 'llm' "
        "(the chat model; slower and paid).",
    )
    lumi_seed_exchanges: int = Field(
        default=3, ge=1, le=100, description="Exchanges after which Lumi extracts its seed."
    )
    lumi_snapshot_every: int = Field(
        default=10, ge=1, description="Lumi re-derives its personality every this many turns."
    )
    lumi_max_drift: float = Field(
        default=0.15, gt=0, le=1, description="Most a Lumi trait may move per snapshot (0..1)."
    )
    guard_policy: dict[str, Any] = Field(
        default_factory=dict,
        description="Guardrail policy overrides: optional 'default', 'products.<mio|lumi>' and "
        "'personas.<id>' tables of thresholds, sexual ('block', 'adults', 'allow'), "
        "stay_in_character, output_checks, refusal and replacements (see "
        "miolumi.core.guardrails.policy).",
    )
    crisis_resources: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Crisis resources by locale ('en', 'en-GB', 'zh', 'zh-TW', 'ja'...) "
        "added to or replacing the built-in table, e.g. {'en-GB': ['Samaritans: 116 123']}.",
    )
    crisis_locale: str | None = Field(
        default=None,
        description="Region whose crisis resources are offered for its language, e.g. en-GB "
        "(unset: each language's default entry).",
    )
    guard_judge_model: str | None = Field(
        default=None,
        description="Chat model ('provider:name') asked about borderline guardrail scores "
        "(unset: local checks only).",
    )

    admin_token: SecretStr | None = Field(
        default=None,
        description="Operator token of the server's /v1/admin endpoints (unset: no admin access).",
    )
    rate_limit: str = Field(
        default="120/minute",
        description="Requests and chat messages each user may send to the server, in the "
        "'limits' notation, e.g. '120/minute' or '10/second;1000/hour'.",
    )
    rate_limit_storage: str = Field(
        default="memory://",
        description="Where rate-limit counters live: memory:// (per process) or e.g. "
        "redis://host:6379 to share them between workers.",
    )
    ws_max_frame_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="Largest WebSocket frame the server reads (a base64 audio message counts).",
    )
    ws_send_queue: int = Field(
        default=64,
        ge=1,
        description="Events buffered per WebSocket before a slow client pauses its turn.",
    )

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("prices")
    @classmethod
    def _check_prices(cls, value: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
        for key, units in value.items():
            parts = key.split(":")
            if len(parts) != 3 or parts[0] not in COST_KINDS or not all(parts):
                kinds = ", ".join(sorted(COST_KINDS))
                raise ValueError(
                    f"price key {key!r} must be 'kind:provider:model' with kind one of {kinds}"
                )
            for unit, price in units.items():
                if unit not in PRICE_UNITS:
                    raise ValueError(
                        f"unknown unit {unit!r} for {key!r}: use {', '.join(sorted(PRICE_UNITS))}"
                    )
                if price < 0:
                    raise ValueError(f"the price of {unit!r} for {key!r} is negative")
        return value

    @field_validator("budget_degrade_model")
    @classmethod
    def _degrade_needs_model(cls, value: str | None, info: ValidationInfo) -> str | None:
        wants = info.data.get("budget_on_cap") == "degrade" or (
            info.data.get("budget_degrade_at") is not None
        )
        if wants and not value:
            raise ValueError(
                "degrading needs a cheaper model: set MIOLUMI_BUDGET_DEGRADE_MODEL "
                "(e.g. local:smollm2), or unset MIOLUMI_BUDGET_DEGRADE_AT and choose another "
                "MIOLUMI_BUDGET_ON_CAP"
            )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read code arguments, then the environment, then the TOML file."""
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file_path()),
        )

    # Derived locations -------------------------------------------------------------------

    @property
    def relational_url(self) -> str:
        """SQLAlchemy URL of the relational store."""
        return self.database_url or f"sqlite:///{self.home / 'miolumi.db'}"

    @property
    def checkpoint_url(self) -> str:
        """Where conversation threads are checkpointed: PostgreSQL URL or a SQLite path."""
        if self.database_url and self.database_url.startswith(("postgresql", "postgres")):
            return self.database_url
        return str(self.home / "threads.sqlite")

    def masked(self) -> dict[str, Any]:
        """Return the settings as plain data with secrets masked, for display."""
        data = self.model_dump(mode="json")
        for name, value in data.items():
            if isinstance(getattr(self, name), SecretStr) and value is not None:
                data[name] = "********"
        if self.database_url:
            data["database_url"] = _mask_url_password(self.database_url)
        data["config_file"] = str(config_file_path())
        return data


def _mask_url_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:********@{host}" if ":" in creds else url


def _check_unknown_env(environ: Mapping[str, str]) -> None:
    fields = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
    known = fields | _NON_FIELD_ENV
    for key in environ:
        if key.startswith(ENV_PREFIX) and key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"did you mean {close[0]}?" if close else "unset it."
            raise ConfigError(f"Unknown setting {key} in the environment: {hint}")


def _check_toml(path: Path) -> None:
    if not path.is_file():
        return
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}. Fix the TOML syntax.") from exc
    names = set(Settings.model_fields)
    for key in data:
        if key not in names:
            close = difflib.get_close_matches(key, sorted(names), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "remove it."
            raise ConfigError(f"Unknown key {key!r} in {path}: {hint}")


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning every validation problem into a `ConfigError`."""
    _check_unknown_env(os.environ)
    path = config_file_path()
    _check_toml(path)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(
            f"Invalid setting {where}: {first['msg']}. Fix MIOLUMI_{where.upper()} or {path}."
        ) from exc


@cache
def get_settings() -> Settings:
    """Return the process-wide settings, loaded once."""
    return load_settings()
