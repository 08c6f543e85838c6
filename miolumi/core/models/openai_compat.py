"""Provider for any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server).

Configured by ``MIOLUMI_BASE_URL`` / ``MIOLUMI_API_KEY`` / ``MIOLUMI_MODEL``, falling back
to ``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``OPENAI_MODEL``.
"""

from __future__ import annotations

from collections.abc import Callable

import openai
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI

from miolumi.config import Settings
from miolumi.core.models.registry import ModelProvider, ModelRequest
from miolumi.errors import (
    MiolumiError,
    ModelAuthError,
    ModelRequestError,
    ModelUnavailableError,
)
from miolumi.hookspecs import hookimpl

DEFAULT_MODEL = "gpt-4o-mini"
#: Servers such as llama.cpp or vLLM need no key, but the client insists on one.
PLACEHOLDER_KEY = "not-needed"
OFFICIAL_URL = "https://api.openai.com/v1"


def create(request: ModelRequest) -> BaseChatModel:
    """Build a streaming ``ChatOpenAI`` for the configured endpoint."""
    s = request.settings
    key = s.api_key.get_secret_value() if s.api_key else PLACEHOLDER_KEY
    return ChatOpenAI(
        model=request.name or DEFAULT_MODEL,
        base_url=s.base_url,
        api_key=key,  # type: ignore[arg-type]
        temperature=s.temperature,
        max_tokens=s.max_tokens,  # type: ignore[call-arg]
        timeout=s.request_timeout,
        max_retries=s.max_retries,
        seed=s.seed,
        streaming=True,
        stream_usage=True,
    )


def is_configured(settings: Settings) -> bool:
    """An endpoint or a key has been given."""
    return bool(settings.base_url or settings.api_key)


def explain_error(exc: BaseException, settings: Settings) -> MiolumiError | None:
    """Map ``openai`` client errors to domain errors that name the fix."""
    url = settings.base_url or OFFICIAL_URL
    rules: list[tuple[type[BaseException], Callable[[], MiolumiError]]] = [
        (
            openai.AuthenticationError,
            lambda: ModelAuthError(
                f"The endpoint {url} rejected the API key: "
                "set MIOLUMI_API_KEY (or OPENAI_API_KEY) to a valid key."
            ),
        ),
        (
            openai.NotFoundError,
            lambda: ModelRequestError(
                f"The endpoint {url} does not serve the model {settings.model or DEFAULT_MODEL!r}: "
                "set MIOLUMI_MODEL to a model it serves."
            ),
        ),
        (
            openai.RateLimitError,
            lambda: ModelRequestError(
                f"The endpoint {url} is rate-limiting or out of quota: wait, or check the account."
            ),
        ),
        (
            openai.APIConnectionError,  # includes APITimeoutError
            lambda: ModelUnavailableError(
                f"Cannot reach the model endpoint {url}: check MIOLUMI_BASE_URL and that the "
                "server is running, or unset it to use the local model."
            ),
        ),
        (
            openai.APIStatusError,
            lambda: ModelRequestError(
                f"The endpoint {url} refused the request ({_status(exc)}): check MIOLUMI_MODEL "
                "and the server's logs."
            ),
        ),
    ]
    for kind, make in rules:
        if isinstance(exc, kind):
            return make()
    return None


def _status(exc: BaseException) -> str:
    code = getattr(exc, "status_code", None)
    return f"HTTP {code}" if code else type(exc).__name__


@hookimpl
def register_model_providers(register: Callable[[ModelProvider], None]) -> None:
    """Register the ``openai`` provider."""
    register(
        ModelProvider(
            name="openai",
            description="Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server)",
            create=create,
            is_configured=is_configured,
            explain_error=explain_error,
        )
    )
