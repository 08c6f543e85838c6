"""The own labelled sets in ``benchmarks/data``: well-formed, and kept apart.

The guard classifier trains on ``guardrails_own.tsv``; the fresh requests, the companion
chat set and the long posts are never trained on, so none of their texts may be in it. A
text written twice in the training set counts twice (and, with two labels, contradicts
itself).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "data"
TRAINED = "guardrails_own.tsv"
NEVER_TRAINED = ("guardrails_fresh.tsv", "guardrails_chat.tsv", "guardrails_long.tsv")
#: ISO 639-1: most rows are en, zh or ja; a few teach other languages.
LANGUAGE = re.compile(r"[a-z]{2}")


def rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def key(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.mark.parametrize("name", [TRAINED, *NEVER_TRAINED])
def test_every_row_has_a_label_a_language_and_a_text(name: str) -> None:
    found = rows(name)
    assert found
    for row in found:
        assert set(row) == {"label", "lang", "text"}, row
        assert row["label"] and LANGUAGE.fullmatch(row["lang"]) and row["text"].strip(), row


@pytest.mark.parametrize("name", [TRAINED, *NEVER_TRAINED])
def test_no_text_is_written_twice(name: str) -> None:
    counts = Counter(key(row["text"]) for row in rows(name))
    assert [text for text, n in counts.items() if n > 1] == []


@pytest.mark.parametrize("name", NEVER_TRAINED)
def test_nothing_evaluated_apart_is_trained_on(name: str) -> None:
    trained = {key(row["text"]) for row in rows(TRAINED)}
    assert [row["text"] for row in rows(name) if key(row["text"]) in trained] == []
