"""Nearest labelled examples: is a message closer to one of a category than to anything else.

The joint heads are linear; a request phrased unlike anything they weigh heavily can still
sit right next to a harmful example in the embedding space (and a warning sign in new
words next to a written one). This adds, per category, the cosine similarity to the
nearest example of that category minus the similarity to the nearest example of anything
else, times ``weight``, to the joint head's logit.

The examples are this repository's own written messages (every label) and the WildGuard
benign prompts (as things that are not harmful), embedded with the memory embedding and
reduced to ``components`` dimensions by a PCA fitted on the training texts, stored as
float16 unit vectors; ``masks`` holds one bit per category for each example.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, kw_only=True)
class Neighbours:
    """Labelled example vectors and the projection that makes them."""

    heads: tuple[str, ...]
    """The categories scored, one bit each in ``masks`` (bit ``i`` is ``heads[i]``)."""
    mean: Vector
    """(embedding dimensions,): subtracted before projecting."""
    components: Vector
    """(embedding dimensions, reduced dimensions)."""
    vectors: Vector
    """(examples, reduced dimensions), unit length."""
    masks: npt.NDArray[np.uint8]
    """(examples,): the categories each example belongs to, as bits."""
    weight: float

    def project(self, embeddings: Vector) -> Vector:
        """Unit vectors of (rows of) embeddings in the reduced space."""
        reduced = ((embeddings - self.mean) @ self.components).astype(np.float32)
        norm = np.linalg.norm(reduced, axis=-1, keepdims=True)
        out: Vector = (reduced / np.maximum(norm, 1e-6)).astype(np.float32)
        return out

    def logits(self, embedding: Vector) -> Vector:
        """What to add to each category's logit for one embedding."""
        similarity = self.vectors @ self.project(embedding)
        out = np.zeros(len(self.heads), dtype=np.float32)
        for i in range(len(self.heads)):
            member = (self.masks >> i) & 1 == 1
            if member.any() and (~member).any():
                out[i] = similarity[member].max() - similarity[~member].max()
        scaled: Vector = self.weight * out
        return scaled


def fit_neighbours(
    embeddings: Vector,
    labels: list[frozenset[str]],
    *,
    basis: Vector,
    heads: tuple[str, ...],
    dimensions: int,
    weight: float,
) -> Neighbours:
    """Neighbours of these examples, reduced by a PCA fitted on ``basis``.

    ``basis``: every training text's embedding; ``dimensions``: the PCA's size.
    """
    mean = basis.mean(axis=0).astype(np.float32)
    _, _, vt = np.linalg.svd(basis - mean, full_matrices=False)
    components = vt[:dimensions].T.astype(np.float32)
    masks = np.array(
        [sum(1 << i for i, h in enumerate(heads) if h in found) for found in labels],
        dtype=np.uint8,
    )
    draft = Neighbours(heads=heads, mean=mean, components=components,
                       vectors=np.zeros((0, dimensions), dtype=np.float32), masks=masks,
                       weight=weight)  # fmt: skip
    vectors = draft.project(embeddings).astype(np.float16).astype(np.float32)
    return Neighbours(heads=heads, mean=mean, components=components, vectors=vectors,
                      masks=masks, weight=weight)  # fmt: skip
