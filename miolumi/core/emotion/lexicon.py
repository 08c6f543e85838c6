"""Small emotion lexicons: cue words per label, for English, Chinese and Japanese.

They serve twice: as the simple lexicon baseline of ``benchmarks/emotion_eval.py``, and as
the Japanese evidence of the engine (no Japanese training set is shipped; Japanese text is
read by the Chinese head through its kanji plus these cues). Matching is by substring on
normalised (NFKC, lower-case) text, so inflections that keep the stem match too.
"""

from __future__ import annotations

from collections.abc import Mapping

from miolumi.core.emotion.affect import Emotion

CUES: Mapping[str, Mapping[Emotion, tuple[str, ...]]] = {
    "en": {
        "anger": (
            "angry",
            "furious",
            "hate",
            "annoyed",
            "annoying",
            "pissed",
            "rage",
            "mad at",
            "stupid",
            "idiot",
            "wtf",
            "damn",
            "sick of",
            "fed up",
        ),
        "disgust": (
            "disgust",
            "gross",
            "nasty",
            "revolting",
            "yuck",
            "ew ",
            "vile",
            "creepy",
            "sickening",
            "repulsive",
        ),
        "fear": (
            "afraid",
            "scared",
            "fear",
            "terrified",
            "worried",
            "nervous",
            "anxious",
            "panic",
            "frightened",
            "dread",
        ),
        "joy": (
            "happy",
            "glad",
            "love",
            "great",
            "awesome",
            "thank",
            "lol",
            "haha",
            "wonderful",
            "amazing",
            "excited",
            "fun",
            "yay",
            "congrat",
            "proud",
            "nice",
            "good",
        ),
        "sadness": (
            "sad",
            "cry",
            "crying",
            "miss ",
            "lonely",
            "depressed",
            "sorry",
            "hurt",
            "heartbroken",
            "unfortunately",
            "lost",
            "grief",
            "upset",
            "disappointed",
        ),
        "surprise": (
            "wow",
            "whoa",
            "surprised",
            "unexpected",
            "can't believe",
            "no way",
            "omg",
            "really?",
            "shocked",
            "huh",
        ),
    },
    "zh": {
        "anger": (
            "生气",
            "气死",
            "愤怒",
            "讨厌",
            "烦",
            "滚",
            "妈的",
            "他妈",
            "垃圾",
            "恶心人",
            "可恶",
            "凭什么",
            "无语",
            "火大",
        ),
        "disgust": ("恶心", "厌恶", "反感", "呕", "鄙视", "嫌弃"),
        "fear": ("害怕", "担心", "恐惧", "吓", "紧张", "焦虑", "怕", "不安", "慌"),
        "joy": (
            "开心",
            "高兴",
            "快乐",
            "哈哈",
            "喜欢",
            "爱",
            "幸福",
            "感谢",
            "谢谢",
            "棒",
            "好开心",
            "加油",
            "美好",
            "期待",
            "赞",
        ),
        "sadness": (
            "难过",
            "伤心",
            "哭",
            "悲伤",
            "心疼",
            "遗憾",
            "失望",
            "孤独",
            "想念",
            "累",
            "痛苦",
            "唉",
            "泪",
        ),
        "surprise": (
            "惊讶",
            "居然",
            "竟然",
            "没想到",
            "天哪",
            "天啊",
            "震惊",
            "卧槽",
            "吃惊",
            "真的假的",
        ),
    },
    "ja": {
        "anger": (
            "怒",
            "むかつ",
            "ムカつ",
            "腹が立",
            "腹立",
            "イライラ",
            "いらいら",
            "ふざけ",
            "許せ",
            "うざ",
            "最悪",
            "キレ",
            "頭にくる",
        ),
        "disgust": ("気持ち悪", "きもい", "キモい", "嫌悪", "うんざり", "吐き気", "気色悪", "げっ"),
        "fear": (
            "怖",
            "こわ",
            "不安",
            "心配",
            "恐",
            "緊張",
            "ドキドキ",
            "びくびく",
            "震え",
            "やばい",
        ),
        "joy": (
            "嬉し",
            "うれし",
            "楽し",
            "たのし",
            "幸せ",
            "最高",
            "ありがと",
            "好き",
            "大好き",
            "よかった",
            "良かった",
            "わくわく",
            "ワクワク",
            "やった",
            "笑",
            "素敵",
            "感謝",
        ),
        "sadness": (
            "悲し",
            "かなし",
            "寂し",
            "さみし",
            "さびし",
            "泣",
            "辛い",
            "つらい",
            "落ち込",
            "残念",
            "切ない",
            "涙",
            "しんど",
            "ショック",
        ),
        "surprise": (
            "驚",
            "びっくり",
            "ビックリ",
            "まさか",
            "えっ",
            "うそ",
            "嘘でしょ",
            "信じられ",
            "マジで",
            "意外",
        ),
    },
}


#: Emoji and emoticons read the same in every language.
EMOJI: Mapping[Emotion, tuple[str, ...]] = {
    "anger": ("😠", "😡", "🤬", "💢", "👿"),
    "disgust": ("🤢", "🤮", "😒", "🙄"),
    "fear": ("😨", "😰", "😱", "😧", "😬"),
    "joy": (
        "😀",
        "😃",
        "😄",
        "😁",
        "😆",
        "😂",
        "🤣",
        "😊",
        "🥰",
        "😍",
        "❤",
        "💕",
        "🎉",
        "👍",
        "🙂",
        "😘",
        "🥳",
        ":)",
        ":-)",
        ":d",
        "^^",
        "^_^",
    ),
    "sadness": ("😢", "😭", "😞", "😔", "🥺", "💔", "😿", ":(", ":-(", "t_t", "qaq"),
    "surprise": ("😮", "😯", "😲", "🤯", "😳", "‼", "!?", "?!"),
}


def cue_counts(text: str, language: str) -> dict[Emotion, int]:
    """How many cues of each label occur in normalised ``text`` (no entry: none)."""
    table = CUES.get(language, CUES["en"])
    found: dict[Emotion, int] = {}
    for label, cues in table.items():
        hits = sum(1 for cue in cues if cue in text)
        hits += sum(1 for cue in EMOJI.get(label, ()) if cue in text)
        if hits:
            found[label] = hits
    return found


def lexicon_label(text: str, language: str) -> Emotion:
    """The label with the most cues in ``text``; neutral when none match (the baseline)."""
    counts = cue_counts(text, language)
    if not counts:
        return "neutral"
    return max(counts, key=lambda label: counts[label])
