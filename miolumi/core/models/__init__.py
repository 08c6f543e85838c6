"""Chat-model providers: OpenAI-compatible endpoints and the embedded local model."""

from miolumi.core.models.registry import ModelCatalog, ModelProvider, ModelRequest, ResolvedModel

__all__ = ["ModelCatalog", "ModelProvider", "ModelRequest", "ResolvedModel"]
