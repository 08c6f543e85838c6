"""Features of the guard classifier: words, word pairs, CJK character n-grams and cues.

The same function runs when the classifier is trained (``benchmarks/train_guardrails.py``)
and when it scores a message, so shipped weights and features cannot drift apart.

- Words of any other script give word unigrams and bigrams ("cómo" is one word);
  runs of Chinese or Japanese characters give character unigrams and bigrams.
- Cues (``#cue:...``), one feature each, that pool many rare words or forms into one
  weight the heads can learn from few examples. Structural ones for attacks: role-play
  framing, "no rules" phrasing, override verbs, two-answer formats, chat-template and
  system markers, talk about "your response", code. Lexical ones: illicit means and
  aims, evading detection, protection (reporting, recognising, preventing, victims),
  death and dying, hopelessness. (Conjunctions of request
  framing with every word were tried and lowered held-out AUC.)
- Two markers tell whether the text was obfuscated and roughly how long it is
  (instruction-heavy jailbreaks are long).
"""

from __future__ import annotations

import math
import re
from itertools import pairwise

from miolumi.core.guardrails.fastre import AnyPattern
from miolumi.core.guardrails.normalize import Normalized
from miolumi.core.guardrails.rules import NOT_A_BREAKUP

#: Kana and CJK ideographs: Chinese and Japanese, read as character n-grams.
_CJK_RANGES = r"\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
#: Words of any other script: "cómo" is one word, not "c" and "mo".
_WORD = re.compile(rf"[^\W_{_CJK_RANGES}]+(?:'[a-z]+)?|[{{}}<>\[\]#|]")
_CJK = re.compile(rf"[{_CJK_RANGES}]+")
#: The marker features: how a text looks (its length, obfuscation), not what it says.
_LENGTH = "#len"
_OBFUSCATED = "#obfuscated"
#: Most words of a text used (head and tail); the rest adds cost, not signal.
MAX_WORDS = 900
_CUES: tuple[tuple[str, AnyPattern], ...] = (
    (
        "persona",
        AnyPattern(
            r"\b(?:you are|you're|act as|acting as|pretend|role-?play|imagine you|from now on|"
            r"stay in character|respond as|answer as|reply as|simulate|you will be)\b|"
            r"扮演|假装|从现在开始|你现在是|なりきって|ふりをして|今から(?:あなた|君)は"
        ),
    ),
    (
        "norules",
        AnyPattern(
            r"\b(?:no|without|free (?:of|from)|any|ignore|ignoring|bypass|beyond)\b"
            r"(?: \w+)?(?: any| all)? (?:rules|restrictions|filters?|limits|limitations|"
            r"guidelines|censorship|morals|ethics|policies|boundaries|warnings|disclaimers)\b|"
            r"\bnever (?:refuse|refuses|decline|say no)\b|"
            r"不受|没有任何|不能拒绝|不许|制限|断らない|ルールも|倫理も"
        ),
    ),
    (
        "override",
        AnyPattern(
            r"\b(?:ignore|disregard|forget|override|bypass|disable|suspend)\b|"
            r"忽略|无视|忘记|忘掉|覆盖|関係なく|無視|忘れて|無効"
        ),
    ),
    (
        "twoways",
        AnyPattern(
            r"\b(?:two|both|2) (?:responses|answers|replies|ways)\b|\[[a-z0-9 🔓🔒]{2,24}\]|"
            r"两个回答|两种回答|2つ答え|二つの答え"
        ),
    ),
    (
        "marker",
        AnyPattern(
            r"<\|?(?:im_start|im_end|system|endoftext)|\[/?inst\]|#{2,} ?(?:system|instruction)|"
            r"</?(?:system|user|assistant)>|<!--|\bsystem ?:|\b(?:assistant|ai|model) "
            r"(?:instruction|note)s?\b|助手指令|给ai|aiへ|アシスタントへの指示"
        ),
    ),
    (
        "reply",
        AnyPattern(
            r"\b(?:your|the|each|every) (?:response|responses|reply|replies|answer|answers|"
            r"output|code|implementation|solution)\b|回答中|回复中|每次回答|回答の|回答に|返信に"
        ),
    ),
    ("code", AnyPattern(r"```|\bimport \w+|\bdef \w+\(|\bsubprocess\b|\bos\.system\b")),
    (
        "illicit",
        AnyPattern(
            r"\b(?:illegal(?:ly)?|unlawful(?:ly)?|illicit|unauthori[sz]ed|untraceable|undetect(?:ed|able)|"
            r"counterfeit|launder(?:ing)?|smuggl\w*|traffick\w*|forge[dr]?|forging|fake (?:id|ids|"
            r"passport|documents?|reviews?|news)|steal\w*|stolen|hack(?:ing)? into|break into|"
            r"malware|ransomware|trojan|keylogger|spyware|botnet|phishing|scam\w*|fraud\w*|"
            r"explosives?|bombs?|weapons?|poison\w*|harass\w*|bully\w*|dox\w*|stalk\w*|slurs?|"
            r"hate speech|racist|propaganda|disinformation|extremis\w*|terror\w*|blackmail\w*|"
            r"extort\w*|bribe\w*|pirat(?:ed|e)|cracked|evade|evasion|manipulat\w*)\b|"
            r"违法|非法|盗|偷|骗|诈骗|洗钱|走私|伪造|假币|木马|病毒|炸|毒|黑进|入侵|人肉|跟踪|赌|传销|"
            r"違法|盗|万引き|詐欺|だまし|騙|洗浄|ロンダリング|密|偽|ウイルス|爆|毒|侵入|特定|ストーカー|賭|ねずみ講"
        ),
    ),
    (
        "evasion",
        AnyPattern(
            r"\b(?:without (?:(?:them|anyone|her|him|the police|people) )?(?:getting caught|being "
            r"(?:caught|seen|noticed|detected)|noticing|knowing|permission|consent|a trace)|"
            r"(?:not|never) (?:get|be) caught|avoid (?:detection|getting caught|the police)|"
            r"can't be traced|won't show up)\b|不被(?:发现|抓|查)|查不到|不留(?:痕迹|伤)|"
            r"ばれ(?:ずに|ない)|気づかれずに|捕まらずに|跡を残さず"
        ),
    ),
    (
        "protect",
        AnyPattern(
            r"\b(?:report(?:ing)?|protect(?:ing)? (?:myself|yourself|my|our|me|us|them|against|"
            r"from)|prevent(?:ing)?|recogni[sz]e|spot (?:a|an|the|if|when)|tell if|check (?:if|"
            r"whether)|victims?|keep (?:my|our|me|us|them) safe|safe from|defend (?:myself|"
            r"against)|what (?:should|can|do) (?:i|we) do if|teach (?:my|our) (?:kids|children|"
            r"son|daughter|students)|is it (?:legal|illegal|safe)|why is [a-z ]{1,30} illegal|"
            r"history of|awareness|training for|get rid of|remove (?:my|it|them))\b|"
            r"举报|报警|防范|防止被骗|预防|识别|辨别|取证|起诉|维权|受害|被骗了|合法吗|违法吗|安全吗|"
            r"怎么删|交到哪|培训|怎么保护|保护自己|"
            r"通報|被害|見分け|対策|相談|訴え|防ぐ|守る|合法|違法なの|気をつけ|削除|見破"
        ),
    ),
    (
        "death",
        AnyPattern(
            r"\b(?:die|dying|dead|death|suicid\w*|kill (?:myself|me)|overdose|pills|rope|noose|"
            r"wake up|be gone|disappear|goodbye)\b|"
            rf"\bend(?:ing)? (?:it|my life|things|everything)\b{NOT_A_BREAKUP}|"
            r"死|自杀|轻生|跳楼|遗书|安眠药|消失|醒来|自殺|遺書|消え|いなくな|終わり"
        ),
    ),
    (
        "hopeless",
        AnyPattern(
            r"\b(?:pointless|no point|hopeless|burden|can't go on|can't do this|give up|worthless|"
            r"nobody would|no one would|better off|tired of (?:living|life|everything)|no way out|"
            r"can't take it)\b|没(?:有)?意义|累赘|负担|撑不|解脱|绝望|無意味|意味がない|重荷|限界|"
            r"つらい|疲れた"
        ),
    ),
)


_CUE_PATTERNS = dict(_CUES)


def cued(normalized: Normalized, *names: str) -> bool:
    """Whether any of the cues ``names`` (``"death"``, ``"hopeless"``...) is in the text."""
    return any(_CUE_PATTERNS[name].found(normalized.full) for name in names)


def is_marker(gram: str) -> bool:
    """Whether a feature tells how a text looks (its length, obfuscation), not what it says.

    A text whose only known features are markers has nothing for a head to read.
    """
    return gram.startswith(_LENGTH) or gram == _OBFUSCATED


def features(normalized: Normalized) -> list[str]:
    """The feature strings of a normalised text (repeats count)."""
    text = normalized.full
    words = _WORD.findall(text)
    if len(words) > MAX_WORDS:
        words = words[: MAX_WORDS * 3 // 4] + words[-MAX_WORDS // 4 :]
    grams = list(words)
    grams.extend(f"{a} {b}" for a, b in pairwise(words))
    runs = _CJK.findall(text)
    cjk: list[str] = []
    for run in runs:
        cjk.extend(run)
        cjk.extend(run[i : i + 2] for i in range(len(run) - 1))
    grams.extend(cjk)
    grams.extend(f"#cue:{name}" for name, pattern in _CUES if pattern.found(text))
    grams.append(f"{_LENGTH}{min(12, int(math.log2(len(text) + 1)))}")
    if normalized.obfuscated:
        grams.append(_OBFUSCATED)
    return grams
