"""SentenceSplitter on the hard cases, fed whole and token by token."""

from __future__ import annotations

import pytest

from miolumi.core.voice.splitter import SentenceSplitter, Split


def split_stream(text: str, *, step: int = 1, max_chars: int = 200) -> list[str]:
    """Feed ``text`` in pieces of ``step`` characters, then flush."""
    splitter = SentenceSplitter(max_chars=max_chars)
    out: list[str] = []
    for i in range(0, len(text), step):
        out.extend(splitter.push(text[i : i + step]))
    last = splitter.flush()
    return [*out, last] if last else out


CASES = [
    ("It costs $29.95 today. Want it?", ["It costs $29.95 today.", "Want it?"]),
    ("Mr. Smith arrived. He sat down.", ["Mr. Smith arrived.", "He sat down."]),
    ("Wait... really? Yes!", ["Wait... really?", "Yes!"]),
    ("Well... I guess. Fine.", ["Well...", "I guess.", "Fine."]),
    ("今天好累。你呢？我很好！", ["今天好累。", "你呢？", "我很好！"]),
    ("「ありがとう。」また明日。", ["「ありがとう。」", "また明日。"]),
    ("I love it 😊 See you soon. Bye 👋", ["I love it 😊 See you soon.", "Bye 👋"]),
    ('She said "go home." Then left.', ['She said "go home."', "Then left."]),
    ("Use e.g. this one. Or that.", ["Use e.g. this one.", "Or that."]),
    ("What?! No way.", ["What?!", "No way."]),
    ("Version 3.11 is out. Upgrade.", ["Version 3.11 is out.", "Upgrade."]),
    ("J. R. R. Tolkien wrote it. Read it.", ["J. R. R. Tolkien wrote it.", "Read it."]),
    ("First line\n\nSecond part", ["First line", "Second part"]),
    ("Hello there", ["Hello there"]),
    ("I can't. Okay then. It's fine.", ["I can't.", "Okay then.", "It's fine."]),
    ("Don’t. Please stop.", ["Don’t.", "Please stop."]),
    ("The answer is no. Let's move on.", ["The answer is no.", "Let's move on."]),
    ("See No. 5 first. Then rest.", ["See No. 5 first.", "Then rest."]),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
@pytest.mark.parametrize("step", [1, 3, 1000])
def test_hard_cases(text: str, expected: list[str], step: int) -> None:
    assert split_stream(text, step=step) == expected


def test_sentence_is_released_as_soon_as_the_next_one_starts() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("Hello there.") == []  # could still be "Hello there.com"
    assert splitter.push(" ") == []  # could still be "... there. and"
    assert splitter.push("How") == ["Hello there."]
    assert splitter.pending == " How"


def test_cjk_sentence_is_released_at_the_next_character() -> None:
    splitter = SentenceSplitter()
    assert splitter.push("你好。") == []  # a closing quote may follow
    assert splitter.push("我") == ["你好。"]
    assert splitter.push("说：「好。") == []
    assert splitter.push("」") == []
    assert splitter.push("走") == ["我说：「好。」"]


def test_no_punctuation_for_300_characters_still_flows() -> None:
    words = " ".join(["word"] * 60)  # 299 characters, no punctuation
    pieces = split_stream(words, step=4, max_chars=120)
    assert len(pieces) >= 2
    assert all(len(p) <= 120 for p in pieces)
    assert " ".join(pieces) == words


def test_unbroken_text_is_cut_at_the_limit() -> None:
    pieces = split_stream("x" * 250, max_chars=100)
    assert "".join(pieces) == "x" * 250
    assert [len(p) for p in pieces] == [100, 100, 50]


def test_soft_break_prefers_commas() -> None:
    text = "a" * 70 + ", " + "b" * 60
    assert split_stream(text, max_chars=100)[0] == "a" * 70 + ","


def test_reset_drops_pending_text() -> None:
    splitter = SentenceSplitter()
    splitter.push("Half a sent")
    splitter.reset()
    assert splitter.flush() is None


def test_too_small_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 20"):
        SentenceSplitter(max_chars=5)


def test_joined_sentences_keep_all_the_text() -> None:
    text = "Hi! I'm Mio. It's 3.50 p.m. now. 好的。Bye..."
    pieces = split_stream(text, step=2)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")


# -- tentative: the sentence the pending text makes if a new one starts next -------------


@pytest.mark.parametrize(
    ("pending", "tentative"),
    [
        ("Hello there.", "Hello there."),
        ("Hello there. ", "Hello there."),
        ('She said "go home."', 'She said "go home."'),
        ("Wait... really?! ", "Wait... really?!"),
        ("今天好累。", "今天好累。"),
        ("「ありがとう。」", "「ありがとう。」"),
        ("Hello there", None),  # no terminator yet
        ("I met Mr. ", None),  # abbreviations do not end sentences
        ("Use e.g. ", None),
        ("J. ", None),  # nor single initials
        ("It costs $29.", "It costs $29."),  # may turn out to be $29.95: a guess
        ("   ", None),
    ],
)
def test_tentative_names_the_sentence_pending_text_would_end(
    pending: str, tentative: str | None
) -> None:
    splitter = SentenceSplitter()
    assert splitter.push(pending) == []
    assert splitter.tentative() == tentative
    assert splitter.pending == pending  # a look only: nothing is consumed


def test_tentative_is_what_push_returns_when_a_sentence_follows() -> None:
    text = "Hi! I'm Mio. It's 3.50 p.m. now. 好的。「はい。」Dr. Who? Yes... OK."
    splitter = SentenceSplitter()
    guesses: list[str | None] = []
    confirmed: list[str] = []
    for char in text:
        guesses.append(splitter.tentative())
        if out := splitter.push(char):
            confirmed.extend(out)
            assert out == [guesses[-1]]  # known one character early
    assert confirmed == [
        *("Hi!", "I'm Mio.", "It's 3.50 p.m. now.", "好的。", "「はい。」", "Dr. Who?", "Yes...")
    ]
    assert splitter.flush() == "OK."


def test_a_wrong_guess_is_not_returned() -> None:
    splitter = SentenceSplitter()
    splitter.push("Well... ")
    assert splitter.tentative() == "Well..."
    assert splitter.push("you know. ") == []  # a lower-case word: the same sentence
    assert splitter.tentative() == "Well... you know."
    assert splitter.push("So") == ["Well... you know."]


def test_push_split_marks_the_pieces_cut_at_the_limit() -> None:
    splitter = SentenceSplitter(max_chars=100)
    long = " ".join(["word"] * 45)  # 224 characters, no punctuation
    pieces = splitter.push_split(f"{long}. Next one. ")
    assert [p.cut for p in pieces] == [True, True, False]
    assert " ".join(p.text for p in pieces) == f"{long}."  # the last piece ends it
    assert splitter.push_split("And") == [Split("Next one.")]
    assert splitter.flush() == "And"
