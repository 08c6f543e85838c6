"""The shipped linear heads: tf-idf n-gram features times a weight matrix, then softmax.

Weights live in ``weights/emotion_<lang>.npz`` (plain arrays, no pickles: the vocabulary
is its n-grams as UTF-8, one per line, in a byte array) with their metadata in
``weights/emotion_model.json``; ``benchmarks/train_emotion.py`` reproduces
them from the shared data sets.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from miolumi.core.emotion.affect import LABELS
from miolumi.core.emotion.features import Featurizer
from miolumi.errors import EmotionModelError

WEIGHTS_DIR = Path(__file__).with_name("weights")
_RETRAIN = "reinstall miolumi, or rebuild them with python benchmarks/train_emotion.py"


@dataclass(frozen=True, kw_only=True)
class LinearHead:
    """One language's classifier: probabilities over `LABELS` for a normalised text."""

    featurizer: Featurizer
    weights: npt.NDArray[np.float32]
    bias: npt.NDArray[np.float32]
    temperature: float

    def probabilities(self, text: str) -> npt.NDArray[np.float64]:
        """Softmax of the calibrated scores of ``text`` (already normalised)."""
        index, values = self.featurizer.vector(text)
        scores = self.bias + values @ self.weights[index] if len(index) else self.bias
        z = scores.astype(np.float64) / self.temperature
        z -= z.max()
        p: npt.NDArray[np.float64] = np.exp(z)
        out: npt.NDArray[np.float64] = p / p.sum()
        return out


def load_head(lang: str, directory: Path = WEIGHTS_DIR) -> LinearHead:
    """Load the head of ``lang`` from ``directory``."""
    meta_path = directory / "emotion_model.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        head = meta["heads"][lang]
        if tuple(meta["labels"]) != LABELS:
            raise EmotionModelError(f"{meta_path} has other labels than {LABELS}: {_RETRAIN}.")
        with np.load(directory / f"emotion_{lang}.npz", allow_pickle=False) as data:
            weights = data["weights"].astype(np.float32)
            bias = data["bias"].astype(np.float32) + np.asarray(head["offsets"], np.float32)
            idf = data["idf"].astype(np.float32)
            grams = data["vocabulary"].tobytes().decode("utf-8").split("\n")
        if not len(grams) == len(idf) == len(weights):
            raise ValueError("vocabulary, idf and weights differ in length")
        featurizer = Featurizer.build(grams, idf)
    except (OSError, KeyError, ValueError) as exc:
        raise EmotionModelError(
            f"Cannot load the {lang!r} emotion weights from {directory} ({exc}): {_RETRAIN}."
        ) from exc
    return LinearHead(
        featurizer=featurizer,
        weights=weights,
        bias=bias,
        temperature=float(head["temperature"]),
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
