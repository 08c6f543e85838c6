"""What is worth remembering from one exchange: facts, preferences, events, with a date.

Two extractors: :func:`llm_facts` asks the chat model for JSON (used when the model is
capable, i.e. a remote one) and :func:`rule_facts` is a deterministic fallback that keeps
the user's self-disclosures (first-person statements in English, Chinese or Japanese)
and the answers they give to the companion's questions.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

log = logging.getLogger(__name__)

#: Most facts kept from one exchange.
MAX_FACTS = 8

_SENTENCE = re.compile(r"[^.!?。！？\n]+[.!?。！？]*")
_FIRST_PERSON_EN = re.compile(r"\b(i|i'm|i've|i'd|i'll|im|my|mine|me|we|we're|our)\b", re.I)
_FIRST_PERSON_CJK = re.compile(r"我|私|僕|俺|あたし|うち")
_QUESTION_END = re.compile(r"[?？]\s*$|[吗嗎呢]\s*[?？]?\s*$|か\s*[?？]?\s*$")
_SMALL_TALK = re.compile(
    r"^(hi|hello|hey|thanks|thank you|ok|okay|yes|no|bye|good night|lol|haha)\b[\s!.]*$", re.I
)
_SLOTS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bmy name is\b|\bcall me\b|我叫|我的名字|私の名前は|名前は", re.I), "name"),
    (re.compile(r"\bi(?: am|'m) (\d{1,3}) years? old\b|我(\d{1,3})岁|(\d{1,3})歳", re.I), "age"),
    (re.compile(r"\bi live in\b|\bi moved to\b|我住在|に住んで", re.I), "home"),
    (re.compile(r"\bi work (?:as|at)\b|\bmy job is\b|我的工作是|仕事は", re.I), "job"),
    (re.compile(r"\bmy favou?rite (\w+(?: \w+)?) (?:is|are)\b", re.I), "favourite"),
    (re.compile(r"我最喜欢的(\w{1,4})是"), "favourite"),
]
_MAJOR = re.compile(
    r"\b(married|divorc\w*|engaged|pregnan\w*|born|died|passed away|funeral|diagnos\w*|"
    r"graduat\w*|new job|fired|laid off|moved|break ?up|broke up|allergic|allergy)\b|"
    r"结婚|离婚|怀孕|去世|毕业|过敏|結婚|離婚|妊娠|亡くな|卒業|アレルギー",
    re.I,
)


@dataclass(frozen=True, kw_only=True)
class Fact:
    """One thing to remember."""

    text: str
    importance: float = 0.5
    slot: str | None = None
    context: str | None = None


def _slot(sentence: str) -> str | None:
    for pattern, name in _SLOTS:
        match = pattern.search(sentence)
        if match:
            detail = next((g for g in match.groups() if g and not g.isdigit()), None)
            return f"{name}:{detail.lower()}" if name == "favourite" and detail else name
    return None


def _is_disclosure(sentence: str) -> bool:
    if _QUESTION_END.search(sentence) or _SMALL_TALK.match(sentence):
        return False
    if _FIRST_PERSON_CJK.search(sentence):
        return len(sentence) >= 3
    return bool(_FIRST_PERSON_EN.search(sentence)) and len(sentence.split()) >= 3


def rule_facts(user_text: str, *, previous: str | None = None) -> list[Fact]:
    """Self-disclosures of ``user_text``; an answer to ``previous`` (a question) as a whole.

    :param previous: the companion's message the user replied to, kept as context.
    """
    text = " ".join(user_text.split())
    sentences = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    context = previous.strip() if previous and previous.strip() else None
    facts = [
        Fact(
            text=s,
            importance=0.8 if _MAJOR.search(s) else 0.5,
            slot=_slot(s),
            context=context,
        )
        for s in sentences
        if _is_disclosure(s)
    ]
    asked = context is not None and bool(_QUESTION_END.search(context))
    answered = asked and text and not _QUESTION_END.search(text) and not _SMALL_TALK.match(text)
    if not facts and answered:
        facts.append(Fact(text=text, importance=0.5, slot=_slot(text), context=context))
    return facts[:MAX_FACTS]


EXTRACTION_PROMPT = (
    "You keep the long-term memory of a companion app. From the exchange below, list what is "
    "worth remembering about the USER for months: facts about their life, people, "
    "preferences, plans and events, each as one short self-contained sentence about "
    "'the user' in the user's language, with the date when it is an event (today is {today}). "
    "Skip small talk and anything about the companion. Answer with JSON only: "
    '{{"memories": [{{"text": "...", "importance": 1-10, "slot": "topic key or null"}}]}}; '
    "slot names what the fact is about when a newer fact would replace it "
    '("home city", "job", "partner", "favourite food"). '
    'Answer {{"memories": []}} when there is nothing.'
)


def parse_facts(answer: str) -> list[Fact]:
    """Facts from the model's JSON answer; raises ``ValueError`` when it is not usable."""
    start, end = answer.find("{"), answer.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the answer")
    data = json.loads(answer[start : end + 1])
    items = data.get("memories") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError("the answer has no 'memories' list")
    facts = []
    for item in items[:MAX_FACTS]:
        if not isinstance(item, dict) or not str(item.get("text", "")).strip():
            continue
        try:
            importance = min(max(float(item.get("importance", 5)) / 10.0, 0.0), 1.0)
        except (TypeError, ValueError):
            importance = 0.5
        slot = item.get("slot")
        facts.append(
            Fact(
                text=str(item["text"]).strip(),
                importance=importance,
                slot=str(slot).strip().lower() if slot and str(slot).lower() != "null" else None,
            )
        )
    return facts


async def llm_facts(
    chat: BaseChatModel,
    *,
    user_text: str,
    reply: str,
    previous: str | None,
    today: datetime,
) -> list[Fact]:
    """Ask ``chat`` for the facts of one exchange; raises on a failed call or bad JSON."""
    exchange = []
    if previous:
        exchange.append(f"Companion (before): {previous}")
    exchange += [f"User: {user_text}", f"Companion: {reply}"]
    messages = [
        SystemMessage(EXTRACTION_PROMPT.format(today=f"{today:%Y-%m-%d}")),
        HumanMessage("\n".join(exchange)),
    ]
    answer = await chat.ainvoke(messages)
    return parse_facts(answer.text)
