"""Readers of the shared emotion data sets, mapped to Ekman's six emotions plus neutral.

Used by ``train_emotion.py`` (which fits the shipped weights) and ``emotion_eval.py``
(which measures them), so that both read and split the data the same way.

- GoEmotions (English): ``train.tsv`` trains, ``dev.tsv`` evaluates. The 27 emotions map
  to Ekman's through the data set's own ``ekman_mapping.json``; an example whose labels map
  to one class is *exclusive*, one whose labels map to several is *mixed*.
- SMP2020-EWECT (Chinese Weibo): only dev sets exist here (``usual`` and ``virus``). Each is
  split by a hash of the text: 70 % trains, 30 % evaluates (:func:`smp_split`).
- CPED (Chinese TV dialogue, ``valid_split.csv``): training only; its 13 emotions map to
  Ekman's (``negative-other`` has no Ekman class and is left out).
"""

from __future__ import annotations

import csv
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

LABELS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")

SMP_LABELS = {
    "0": "neutral",
    "1": "anger",
    "2": "joy",
    "3": "sadness",
    "4": "fear",
    "5": "surprise",
}
CPED_LABELS = {
    "anger": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "worried": "fear",
    "happy": "joy",
    "relaxed": "joy",
    "grateful": "joy",
    "positive-other": "joy",
    "sadness": "sadness",
    "depress": "sadness",
    "astonished": "surprise",
    "neutral": "neutral",
}
#: Share of each SMP2020 dev set (in tenths, by text hash) kept aside for evaluation.
SMP_EVAL_TENTHS = 3


@dataclass(frozen=True)
class Example:
    """One labelled text; ``labels`` holds more than one Ekman class for mixed examples."""

    text: str
    labels: frozenset[str]
    source: str
    fine: frozenset[str] = frozenset()
    """The source's own finer labels, where it has them (GoEmotions' 27 emotions + neutral)."""

    @property
    def label(self) -> str:
        """The single label (exclusive examples only)."""
        (only,) = self.labels
        return only


def goemotions_groups(root: Path) -> dict[str, str]:
    """GoEmotions' fine label -> its Ekman class (or neutral), in the data set's order."""
    names = (root / "emotions.txt").read_text(encoding="utf-8").split()
    ekman = json.loads((root / "ekman_mapping.json").read_text(encoding="utf-8"))
    to_ekman = {fine: coarse for coarse, fines in ekman.items() for fine in fines}
    to_ekman["neutral"] = "neutral"
    return {name: to_ekman[name] for name in names}


def goemotions(root: Path, split: str) -> list[Example]:
    """GoEmotions ``split`` (``train`` or ``dev``) with Ekman + neutral label sets."""
    to_ekman = goemotions_groups(root)
    names = list(to_ekman)
    out = []
    with (root / f"{split}.tsv").open(encoding="utf-8") as handle:
        for line in handle:
            text, ids, _ = line.rstrip("\n").split("\t")
            fine = frozenset(names[int(i)] for i in ids.split(","))
            labels = frozenset(to_ekman[name] for name in fine)
            out.append(Example(text, labels, f"goemotions/{split}", fine))
    return out


def smp_is_eval(text: str) -> bool:
    """Whether an SMP2020 text belongs to the evaluation part (a fixed hash split)."""
    return zlib.crc32(text.encode("utf-8")) % 10 < SMP_EVAL_TENTHS


def smp(root: Path) -> tuple[list[Example], list[Example]]:
    """The SMP2020-EWECT dev sets split into (train, eval) by :func:`smp_is_eval`."""
    train: list[Example] = []
    held: list[Example] = []
    for name in ("usual", "virus"):
        with (root / name / "dev.tsv").open(encoding="utf-8") as handle:
            next(handle)
            for line in handle:
                label, text = line.rstrip("\n").split("\t", 1)
                example = Example(text, frozenset({SMP_LABELS[label]}), f"smp2020/{name}")
                (held if smp_is_eval(text) else train).append(example)
    return train, held


def cped(path: Path) -> list[Example]:
    """CPED utterances whose emotion has an Ekman class."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [
            Example(row["Utterance"], frozenset({CPED_LABELS[row["Emotion"]]}), "cped")
            for row in csv.DictReader(handle)
            if row["Emotion"] in CPED_LABELS and row["Utterance"].strip()
        ]


def japanese(path: Path) -> list[Example]:
    """The hand-labelled Japanese set: ``label<TAB>text`` lines, ``#`` comments."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        label, text = line.split("\t", 1)
        if label not in LABELS:
            raise ValueError(f"{path}: unknown label {label!r}")
        out.append(Example(text, frozenset({label}), "ja"))
    return out
