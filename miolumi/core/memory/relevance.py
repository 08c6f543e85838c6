"""Relevance of a memory to a query, in the spirit of the generative-agents score.

``score = semantic·sem + lexical·lex + recency·rec + importance·imp``, then each memory
adds ``neighbours`` times the better score of the memories just before and after it in
the same episode, so the turn that answers a question is found with the one that asked
it. ``sem`` and ``lex`` are min-max normalised over the candidates of one search;
``rec`` halves every ``half_life_days``; ``imp`` is the memory's importance in [0, 1].

The defaults come from ``benchmarks/memory_locomo.py`` (LoCoMo dev conversations,
recall@10 of the evidence turns), which prints the ablations next to them: defaults
0.791; without neighbours 0.755; without semantic 0.775; without lexical 0.577;
semantic = lexical = 0.5 gives 0.762; neighbours 0.8 gives 0.793 (kept at 0.5: the gain
is within noise and a strong neighbour term floods a prompt with adjacent chatter).
Lexical evidence carries most of the signal on long English chats, the semantic score
adds paraphrase and cross-lingual matches (a Chinese question finds an English memory).
Recency and importance are kept small: LoCoMo asks about old and new events alike, so
they only break ties there, while in a companion's everyday use they favour what is
current and what mattered.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace

from miolumi.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class RelevanceWeights:
    """Weights of the relevance score; see the module docstring."""

    semantic: float = 0.3
    lexical: float = 0.7
    neighbours: float = 0.5
    recency: float = 0.02
    importance: float = 0.02
    half_life_days: float = 180.0
    candidates: int = 50
    """Memories taken from each of the semantic and the lexical ranking before fusion."""

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> RelevanceWeights:
        """Defaults overridden by ``values`` (``MIOLUMI_MEMORY_WEIGHTS``); unknown keys fail."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(
                f"Unknown memory weight {unknown[0]!r} in MIOLUMI_MEMORY_WEIGHTS: use "
                f"{', '.join(sorted(names))}."
            )
        for name, value in values.items():
            if not math.isfinite(value) or value < 0:
                raise ConfigError(
                    f"Memory weight {name!r} must be a non-negative number: fix "
                    "MIOLUMI_MEMORY_WEIGHTS."
                )
        weights = cls(**{**asdict(cls()), **values})
        if weights.half_life_days <= 0 or weights.candidates < 1:
            raise ConfigError(
                "half_life_days must be positive and candidates at least 1: fix "
                "MIOLUMI_MEMORY_WEIGHTS."
            )
        return replace(weights, candidates=int(weights.candidates))


def normalise(values: Mapping[str, float]) -> dict[str, float]:
    """Min-max scale ``values`` to [0, 1] (all zeros when they are all equal)."""
    if not values:
        return {}
    low, high = min(values.values()), max(values.values())
    if high <= low:
        return dict.fromkeys(values, 0.0)
    span = high - low
    return {key: (value - low) / span for key, value in values.items()}


def recency(age_days: float, half_life_days: float) -> float:
    """Exponential decay: 1 now, 0.5 after one half-life; future times count as now."""
    return math.pow(0.5, max(age_days, 0.0) / half_life_days)
