"""The shipped linear heads: tf-idf n-gram features times a weight matrix, then softmax.

Each language head also reads, when the caller has it, the sentence embedding that memory
computes for the message (`EMBEDDING_MODEL`): its logistic scores are added to the n-gram
scores with a weight chosen by cross-validation, and the mix has its own calibration. A
head may read its language's cue-word counts too (`CueColumns`), as a few more columns of
the same linear model, and may score finer emotions than Ekman's (`FineColumns`, where the
training data has them: GoEmotions' 27), each label then also taking its best fine score.

Weights live in ``weights/emotion_<lang>.npz`` (plain arrays, no pickles: the vocabulary
is its n-grams as UTF-8, one per line, in a byte array) with their metadata in
``weights/emotion_model.json``; ``benchmarks/train_emotion.py`` reproduces
them from the shared data sets.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from miolumi.core.emotion.affect import LABELS, Emotion
from miolumi.core.emotion.features import Featurizer, cue_features
from miolumi.core.emotion.packing import unpack
from miolumi.errors import EmotionModelError

WEIGHTS_DIR = Path(__file__).with_name("weights")
#: The memory embedding the heads read (``miolumi.core.memory.embeddings.UseM3Embedding``).
EMBEDDING_MODEL = "miolumi-use-m3"
EMBEDDING_DIMENSIONS = 512
_RETRAIN = "reinstall miolumi, or rebuild them with python benchmarks/train_emotion.py"

Vector = npt.NDArray[np.float32]


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Per-label score offsets and a softmax temperature."""

    offsets: Vector
    temperature: float

    @classmethod
    def read(cls, meta: dict[str, Any]) -> Calibration:
        """From a head's metadata (``offsets``, ``temperature``)."""
        offsets = np.asarray(meta["offsets"], dtype=np.float32)
        if offsets.shape != (len(LABELS),):
            raise ValueError(f"{len(offsets)} offsets for {len(LABELS)} labels")
        return cls(offsets=offsets, temperature=float(meta["temperature"]))

    def softmax(self, scores: Vector) -> npt.NDArray[np.float64]:
        """Probabilities from raw scores."""
        z = (scores + self.offsets).astype(np.float64) / self.temperature
        z -= z.max()
        p: npt.NDArray[np.float64] = np.exp(z)
        out: npt.NDArray[np.float64] = p / p.sum()
        return out


@dataclass(frozen=True, kw_only=True)
class EmbeddingHead:
    """Scores over the memory embedding, and how they mix with the n-gram scores.

    Logistic regression, or a small network with one hidden ReLU layer, whichever
    cross-validated better for the language.
    """

    weights: Vector
    bias: Vector
    mix: float
    calibration: Calibration
    hidden: tuple[Vector, Vector] | None = None
    """Weights and bias of the hidden layer, if any."""

    def scores(self, embedding: Vector) -> Vector:
        """Logits of an embedding (dimensions checked by the caller)."""
        if self.hidden is not None:
            embedding = np.maximum(embedding @ self.hidden[0] + self.hidden[1], 0.0)
        out: Vector = self.bias + embedding @ self.weights
        return out


def sparse_scores(
    bias: Vector, weights: Vector, index: npt.NDArray[np.int64], values: Vector
) -> Vector:
    """``bias`` plus a sparse vector (``index``, ``values``) times the rows of ``weights``."""
    out: Vector = bias + values @ weights[index] if len(index) else bias
    return out


CueCounts = Mapping[str, Mapping[Emotion, int]]
"""Cue counts of one text (``lexicon.cue_counts``) by the language they were counted in."""


@dataclass(frozen=True, kw_only=True)
class CueColumns:
    """The cue-lexicon columns of a head: ``language``'s counts per label, scaled."""

    language: str
    scale: float
    weights: Vector
    """Labels x labels: the weight of each label's cue count for each label's score."""

    def scores(self, text: str, counted: CueCounts | None = None) -> Vector:
        """What the cues of ``text`` (normalised) add to the n-gram scores.

        ``counted``: cue counts of ``text`` the caller made already, by language; the ones
        in this head's language are used instead of counting again.
        """
        counts = counted.get(self.language) if counted else None
        features = cue_features(text, self.language, self.scale, counts=counts)
        out: Vector = features @ self.weights
        return out


@dataclass(frozen=True, kw_only=True)
class FineColumns:
    """Scores of finer emotions over the same n-grams, folded into their labels by maximum."""

    weights: Vector
    """Vocabulary x fine emotions."""
    bias: Vector
    groups: npt.NDArray[np.int64]
    """The label (index in `LABELS`) of each fine emotion; every label has one at least."""
    mix: float

    def scores(self, index: npt.NDArray[np.int64], values: Vector) -> Vector:
        """``mix`` times each label's best fine score, for a text's sparse vector."""
        fine = sparse_scores(self.bias, self.weights, index, values)
        out = np.full(len(LABELS), -np.inf, dtype=np.float32)
        np.maximum.at(out, self.groups, fine)
        result: Vector = self.mix * out
        return result


@dataclass(frozen=True, kw_only=True)
class LinearHead:
    """One language's classifier: probabilities over `LABELS` for a normalised text."""

    featurizer: Featurizer
    weights: Vector
    bias: Vector
    calibration: Calibration
    embedding: EmbeddingHead | None = None
    cues: CueColumns | None = None
    fine: FineColumns | None = None

    def scores(self, text: str, counted: CueCounts | None = None) -> Vector:
        """Raw n-gram (cue and fine) scores of ``text`` (already normalised)."""
        index, values = self.featurizer.vector(text)
        out = sparse_scores(self.bias, self.weights, index, values)
        if self.fine is not None:
            out = out + self.fine.scores(index, values)
        if self.cues is not None:
            out = out + self.cues.scores(text, counted)
        return out

    def probabilities(
        self, text: str, embedding: Vector | None = None, counted: CueCounts | None = None
    ) -> npt.NDArray[np.float64]:
        """Calibrated probabilities of ``text`` (normalised), with its embedding if given.

        ``counted``: ``cue_counts`` of ``text`` already made, by language (see `CueColumns`).
        """
        scores = self.scores(text, counted)
        if embedding is None or self.embedding is None:
            return self.calibration.softmax(scores)
        mixed = scores + self.embedding.mix * self.embedding.scores(embedding)
        return self.embedding.calibration.softmax(mixed)


def load_head(lang: str, directory: Path = WEIGHTS_DIR) -> LinearHead:
    """Load the head of ``lang`` from ``directory``."""
    meta_path = directory / "emotion_model.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        head = meta["heads"][lang]
        if tuple(meta["labels"]) != LABELS:
            raise EmotionModelError(f"{meta_path} has other labels than {LABELS}: {_RETRAIN}.")
        with np.load(directory / f"emotion_{lang}.npz", allow_pickle=False) as data:
            weights = unpack(data, "weights")
            bias = data["bias"].astype(np.float32)
            idf = data["idf"].astype(np.float32)
            grams = data["vocabulary"].tobytes().decode("utf-8").split("\n")
            embedding = _embedding_head(head.get("embedding"), data)
            cues = _cue_columns(head.get("cues"), data)
            fine = _fine_columns(head.get("fine"), data)
        if not len(grams) == len(idf) == len(weights):
            raise ValueError("vocabulary, idf and weights differ in length")
        if fine is not None and len(fine.weights) != len(weights):
            raise ValueError("fine weights and vocabulary differ in length")
        featurizer = Featurizer.build(grams, idf)
        calibration = Calibration.read(head)
    except (OSError, KeyError, ValueError) as exc:
        raise EmotionModelError(
            f"Cannot load the {lang!r} emotion weights from {directory} ({exc}): {_RETRAIN}."
        ) from exc
    return LinearHead(
        featurizer=featurizer,
        weights=weights,
        bias=bias,
        calibration=calibration,
        embedding=embedding,
        cues=cues,
        fine=fine,
    )


def _fine_columns(meta: dict[str, Any] | None, data: Any) -> FineColumns | None:
    """The fine-emotion columns of a head; ``None`` for weights trained without them."""
    if meta is None:
        return None
    weights = unpack(data, "fine_weights")
    bias = data["fine_bias"].astype(np.float32)
    groups = data["fine_groups"].astype(np.int64)
    if not weights.shape[1] == len(bias) == len(groups) == len(meta["labels"]):
        raise ValueError(f"fine weights of shape {weights.shape} for {len(groups)} groups")
    if set(groups.tolist()) != set(range(len(LABELS))):
        raise ValueError("fine emotions that leave a label without any")
    return FineColumns(weights=weights, bias=bias, groups=groups, mix=float(meta["mix"]))


def _cue_columns(meta: dict[str, Any] | None, data: Any) -> CueColumns | None:
    """The cue columns of a head; ``None`` for weights trained without them."""
    if meta is None:
        return None
    weights = data["cue_weights"].astype(np.float32)
    if weights.shape != (len(LABELS), len(LABELS)):
        raise ValueError(f"cue weights of shape {weights.shape}")
    return CueColumns(language=str(meta["language"]), scale=float(meta["scale"]), weights=weights)


def _embedding_head(meta: dict[str, Any] | None, data: Any) -> EmbeddingHead | None:
    """The embedding part of a head; ``None`` for weights trained without one."""
    if meta is None:
        return None
    if meta["model"] != EMBEDDING_MODEL or meta["dimensions"] != EMBEDDING_DIMENSIONS:
        raise ValueError(f"embedding head for {meta['model']}, expected {EMBEDDING_MODEL}")
    hidden: tuple[Vector, Vector] | None = None
    width = EMBEDDING_DIMENSIONS
    if meta.get("kind", "logistic") == "mlp":
        hidden = (
            unpack(data, "embedding_hidden_weights"),
            data["embedding_hidden_bias"].astype(np.float32),
        )
        width = len(hidden[1])
        if hidden[0].shape != (EMBEDDING_DIMENSIONS, width):
            raise ValueError(f"hidden embedding weights of shape {hidden[0].shape}")
    weights = data["embedding_weights"].astype(np.float32)
    if weights.shape != (width, len(LABELS)):
        raise ValueError(f"embedding weights of shape {weights.shape}")
    return EmbeddingHead(
        weights=weights,
        bias=data["embedding_bias"].astype(np.float32),
        mix=float(meta["mix"]),
        calibration=Calibration.read(meta),
        hidden=hidden,
    )


class HeadCache:
    """Loads each head once, on first use, thread-safely."""

    def __init__(self, *, directory: Path = WEIGHTS_DIR) -> None:
        self.directory = directory
        self._heads: dict[str, LinearHead] = {}
        self._lock = threading.Lock()

    def get(self, lang: str) -> LinearHead:
        """The head of ``lang``."""
        head = self._heads.get(lang)
        if head is None:
            with self._lock:
                head = self._heads.get(lang) or load_head(lang, self.directory)
                self._heads[lang] = head
        return head
