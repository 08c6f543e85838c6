"""Language routing: detect_language and the segmentation of mixed en/zh/ja replies."""

from __future__ import annotations

import pytest

from miolumi.core.voice import detect_language, segment
from miolumi.core.voice.language import speakable

SINGLE = [
    ("Hello, how was your day?", "en"),
    ("I'm so proud of you, really.", "en"),
    ("Okay but you said fine in a very not-fine font.", "en"),
    ("今天好累啊，你呢？", "zh"),
    ("我们明天去杭州吧。", "zh"),
    ("你好", "zh"),
    ("东京", "zh"),
    ("今日はいい天気ですね。", "ja"),
    ("ありがとう！", "ja"),
    ("本を読むのが好きです。", "ja"),
    ("¿Dónde está la biblioteca?", "es"),
    ("Muchas gracias por todo, amigo.", "es"),
    ("Je suis très content de te voir.", "fr"),
    ("Ich habe heute keine Zeit.", "de"),
    ("안녕하세요", "ko"),
    ("😊👋", "und"),
]


@pytest.mark.parametrize(("text", "language"), SINGLE)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_detection_can_be_restricted() -> None:
    # "Pizza" alone could be many things; restricted to en/es it is one of them.
    assert detect_language("Gracias, see you.", languages=["en"]) == "en"
    assert detect_language("Muchas gracias por todo.", languages=["en", "es"]) == "es"


MIXED: list[tuple[str, list[str]]] = [
    ("我今天用 Python 写代码。", ["zh", "en", "zh"]),
    ("I love 寿司 and ラーメン so much!", ["en", "ja", "en", "ja", "en"]),
    ("Let me say 加油 to you. 好的！", ["en", "zh", "en", "zh"]),
    ("好吧 😊 See you tomorrow, my friend.", ["zh", "en"]),
    ("今日は Starbucks に行きました。", ["ja", "en", "ja"]),
    ("这个叫 machine learning，很有意思。", ["zh", "en", "zh"]),
    ("My favourite word is 木漏れ日, light through the leaves.", ["en", "ja", "en"]),
    ("Say 你好 when you meet her.", ["en", "zh", "en"]),
    ("東京タワーに行きたい！", ["ja"]),
    ("The word 東京 means eastern capital.", ["en", "zh", "en"]),
    ("あなたは OK ですか？", ["ja", "en", "ja"]),
    ("Hola, ¿qué tal? 我很好。", ["es", "zh"]),
    ("Good morning! 早上好！", ["en", "zh"]),
    ("Good morning! おはよう！", ["en", "ja"]),
    ("加油!! You can do it.", ["zh", "en"]),
    ("We met at 3.30 p.m. in 上海, remember?", ["en", "zh", "en"]),
]


@pytest.mark.parametrize(("text", "languages"), MIXED)
def test_segment_mixed_replies(text: str, languages: list[str]) -> None:
    pieces = segment(text)
    assert [p.language for p in pieces] == languages
    assert "".join(p.text for p in pieces) == text


def test_routing_accuracy_on_mixed_sentences() -> None:
    """Every segment of the mixed set goes to the right language (see the README figure)."""
    total = correct = 0
    for text, languages in MIXED:
        got = [p.language for p in segment(text)]
        total += len(languages)
        correct += sum(a == b for a, b in zip(got, languages, strict=False))
    assert correct / total == 1.0


def test_han_in_a_japanese_reply_stays_japanese() -> None:
    # Han alone cannot tell Chinese from Japanese: in a reply with kana, it is Japanese.
    assert [p.language for p in segment("天気。今日は晴れです。")] == ["ja"]
    assert [p.language for p in segment("早上好！おはよう！")] == ["ja"]


def test_text_without_letters_gets_the_default() -> None:
    assert segment("123 !!", default="zh")[0].language == "zh"


def test_speakable_drops_emoji_and_keeps_words() -> None:
    assert speakable("I love it 😊 See 👋🏽 you ❤️") == "I love it See you"
    assert speakable("好的！🎉") == "好的！"
