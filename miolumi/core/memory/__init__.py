"""Memory: what companions remember of their users, scoped per persona.

:class:`MemoryManager` is the one API both products use; see its module for the
scoping rule, `miolumi.core.memory.relevance` for how hits are ranked, and
`miolumi.core.memory.embeddings` for the offline embedding models.
"""

from miolumi.core.memory.manager import MemoryManager
from miolumi.core.memory.relevance import RelevanceWeights
from miolumi.core.memory.types import Memory, MemoryHit, NewMemory, WriteResult

__all__ = ["Memory", "MemoryHit", "MemoryManager", "NewMemory", "RelevanceWeights", "WriteResult"]
