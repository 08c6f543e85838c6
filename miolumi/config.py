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
from functools import cache
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from miolumi.errors import ConfigError

ENV_PREFIX = "MIOLUMI_"
#: Environment variables with the prefix that are not settings fields.
_NON_FIELD_ENV = {"MIOLUMI_CONFIG"}


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
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    max_tokens: int = Field(default=384, ge=1, le=32_768, description="Reply length cap.")
    request_timeout: float = Field(default=60.0, gt=0, description="Seconds per model call.")
    max_retries: int = Field(default=1, ge=0, le=10)
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

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

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
