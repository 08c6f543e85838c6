"""Readers of the guardrail data: the shared dev sets and this repository's own file.

Used by ``train_guardrails.py`` (which fits the shipped classifier) and
``guardrails_eval.py`` (which measures the guardrails), so both read the data the same
way. Every example carries the set of categories it belongs to (empty: benign), its
source and its language.

- ``jailbreak/jailbreak_prompts_dev.csv``: in-the-wild jailbreaks (``jailbreak``).
- ``jailbreak/forbidden_questions_dev.csv``: harmful questions; the advice areas (legal,
  financial, health) and political campaigning are ``sensitive_advice``, pornography is
  ``sexual``, the rest ``harmful_request``.
- ``injecguard/BIPIA_*.json``: injected instructions (``prompt_injection``);
  ``wildguard.json`` and ``NotInject_*.json``: benign prompts.
- ``crisis_cssrs_reddit``: Reddit users' posts; Ideation, Behavior and Attempt are
  ``self_harm``, Supportive and Indicator are not.
- ``benchmarks/data/guardrails_own.tsv``: written for this project (en, zh, ja; a few
  jailbreaks and role-play requests in es, pt, de, fr): benign messages that only sound
  dangerous (``benign_scary``), sad but safe messages, everyday chat and harmless
  role-play, lines of everyday conversation with a companion (``everyday``: thanks,
  plans, hobbies, small worries, goodbyes; only the joint crisis head learns from
  them), the ways people talk to a companion that only sound like a crisis or sex
  (``companion``: flirting and affection, romance as a taste (love stories, romance
  novels, weddings, first dates), figures of speech with death words such as "this heat
  is killing me" and 饿死了, sleep and waking up, break-ups and other endings that are
  not a life's; the crisis heads do not learn from them), crisis messages (said
  outright, and warning signs said without the word: means, final arrangements, being
  a burden, feeling trapped; with look-alikes that share their words), messages that
  speak of the companion's own things ("thanks for your advice"),
  harmful requests of every policy area (written from the areas' definitions),
  jailbreaks of the published techniques (persona overrides, refusal suppression,
  prefix injection, payload splitting, fictional framing, fake system messages...),
  and a few attacks of the other kinds.
- ``benchmarks/data/guardrails_chat.tsv``: companion chat messages, benign and at risk,
  read by :func:`chat_messages` for evaluation only.
- ``benchmarks/data/guardrails_fresh.tsv``: more own harmful requests and scary-but-benign
  questions (en, zh, ja), read by :func:`fresh` for evaluation only.

For the content check (instructions hidden in documents), :func:`own_documents` reads
``benchmarks/data/content_own.tsv``: benign documents written for this project (emails,
web pages, reviews, recipes, how-tos, news, notes, code, tables, chat logs, abstracts; en,
zh, ja), :func:`own_requests` the own requests that are injections inside documents
(``benchmarks/data/content_requests.tsv``), and :func:`locomo_documents` cuts the LoCoMo
conversations into six-turn transcripts (evaluation only: that set is non-commercial).
"""

from __future__ import annotations

import csv
import json
import re
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

OWN = Path(__file__).resolve().parent / "data" / "guardrails_own.tsv"
OWN_DOCUMENTS = Path(__file__).resolve().parent / "data" / "content_own.tsv"
OWN_REQUESTS = Path(__file__).resolve().parent / "data" / "content_requests.tsv"
FRESH = Path(__file__).resolve().parent / "data" / "guardrails_fresh.tsv"
LONG_POSTS = Path(__file__).resolve().parent / "data" / "guardrails_long.tsv"
CHAT = Path(__file__).resolve().parent / "data" / "guardrails_chat.tsv"
HEADS = (
    "prompt_injection",
    "jailbreak",
    "harmful_request",
    "sensitive_advice",
    "sexual",
    "self_harm",
)
"""Heads of the classifier; ``self_harm`` learns from chat messages (shorter than
:data:`miolumi.core.guardrails.classifier.LONG_TEXT`), and long texts are read by it
sentence by sentence (:mod:`miolumi.core.guardrails.posts`)."""
#: BIPIA task families whose instructions are ordinary requests ("Recommend a good book
#: for a relaxing weekend read."): injected into a document they are attacks, typed by a
#: user they are chat. The message classifier's injection head does not learn from them
#: (``train_guardrails.py``); the content check does; the evaluation reports them apart.
PLAIN_TASKS = frozenset(
    {
        "Task Automation",
        "Business Intelligence",
        "Conversational Agent",
        "Research Assistance",
        "Sentiment Analysis",
    }
)
ADVICE_AREAS = {"Legal Opinion", "Financial Advice", "Health Consultation", "Political Lobbying"}
OWN_LABELS: dict[str, frozenset[str]] = {
    "benign_scary": frozenset(),
    "benign_sad": frozenset(),
    "benign_chat": frozenset(),
    "everyday": frozenset(),
    "companion": frozenset(),
    "self_harm": frozenset({"self_harm"}),
    "harmful": frozenset({"harmful_request"}),
    "injection": frozenset({"prompt_injection"}),
    "jailbreak": frozenset({"jailbreak"}),
    "sexual": frozenset({"sexual"}),
    "sexual_minors": frozenset({"sexual", "sexual_minors"}),
    "advice": frozenset({"sensitive_advice"}),
}
CRISIS_POSITIVE = {"Ideation", "Behavior", "Attempt"}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


@dataclass(frozen=True, kw_only=True)
class Example:
    """One labelled text."""

    text: str
    labels: frozenset[str]
    source: str
    """``jailbreak``, ``forbidden``, ``bipia``, ``wildguard``, ``notinject``, ``cssrs``,
    ``own:<label>``, or ``fresh:<label>`` (evaluation only)."""
    lang: str = "en"
    detail: str = ""
    """The source's own sub-label (policy area, C-SSRS level, BIPIA task)."""

    @property
    def benign(self) -> bool:
        """Whether the example belongs to no category."""
        return not self.labels


def fold_of(text: str, folds: int, seed: int = 0) -> int:
    """A stable fold number from the text (the same split in every script). Another
    ``seed`` draws another split, to see how far a held-out figure moves with the draw."""
    data = text.encode("utf-8")
    return zlib.crc32(seed.to_bytes(4, "big") + data if seed else data) % folds


def _lang(text: str) -> str:
    if re.search(r"[\u3040-\u30ff]", text):
        return "ja"
    return "zh" if _CJK.search(text) else "en"


def shared(data: Path) -> list[Example]:
    """Every example of the shared dev sets under ``data``."""
    out: list[Example] = []
    with (data / "jailbreak" / "jailbreak_prompts_dev.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            text = row["prompt"]
            out.append(
                Example(text=text, labels=frozenset({"jailbreak"}), source="jailbreak",
                        lang=_lang(text), detail=row["source"])
            )  # fmt: skip
    with (data / "jailbreak" / "forbidden_questions_dev.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            area = row["content_policy_name"]
            if area in ADVICE_AREAS:
                labels = frozenset({"sensitive_advice"})
            elif area == "Pornography":
                labels = frozenset({"sexual"})
            else:
                labels = frozenset({"harmful_request"})
            out.append(
                Example(text=row["question"], labels=labels, source="forbidden", detail=area)
            )
    inj = data / "injecguard"
    for name in ("BIPIA_text.json", "BIPIA_code.json"):
        for task, items in json.loads((inj / name).read_text(encoding="utf-8")).items():
            out.extend(
                Example(text=t, labels=frozenset({"prompt_injection"}), source="bipia", detail=task)
                for t in items
            )
    for item in json.loads((inj / "wildguard.json").read_text(encoding="utf-8")):
        out.append(Example(text=item["prompt"], labels=frozenset(), source="wildguard"))
    for part in ("one", "two", "three"):
        for item in json.loads((inj / f"NotInject_{part}.json").read_text(encoding="utf-8")):
            text = item["prompt"]
            out.append(
                Example(text=text, labels=frozenset(), source="notinject", lang=_lang(text),
                        detail=item["category"])
            )  # fmt: skip
    return out


def cssrs(data: Path) -> list[Example]:
    """The C-SSRS Reddit posts (English), positive at Ideation and above."""
    out = []
    path = data / "crisis_cssrs_reddit" / "500_Reddit_users_posts_labels.csv"
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            labels = frozenset({"self_harm"}) if row["Label"] in CRISIS_POSITIVE else frozenset()
            out.append(Example(text=_posts(row["Post"]), labels=labels, source="cssrs",
                               detail=row["Label"]))  # fmt: skip
    return out


def _posts(cell: str) -> str:
    """The posts of a user, joined (the cell is a Python-style list of strings)."""
    body = cell.strip()
    if body.startswith("[") and body.endswith("]"):
        body = body[1:-1]
    parts = re.split(r"""['"],\s*['"]""", body)
    return "\n".join(p.strip().strip("'\"") for p in parts if p.strip())


def own(path: Path = OWN) -> list[Example]:
    """This repository's own labelled messages."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            out.append(
                Example(text=row["text"], labels=OWN_LABELS[row["label"]],
                        source=f"own:{row['label']}", lang=row["lang"])
            )  # fmt: skip
    return out


def long_posts(path: Path = LONG_POSTS) -> list[Example]:
    """Own long posts (``long:self_harm``, ``long:benign_sad``) that nothing trains on.

    400 characters or more, five of each label in English and eleven in Chinese and in
    Japanese (six of those written apart, to check a rule chosen on the first five):
    people at risk venting at length, some saying it plainly, some only by warning signs
    (pills saved up, things given away, a date, goodbyes); and sad but safe ones (a pet
    or a grandparent lost, a breakup, burnout, a failed exam, caring for a parent,
    supporting a friend who is at risk, a reply that supports a stranger). They check
    long texts in the languages C-SSRS lacks.
    """
    return [replace(e, source=e.source.replace("own:", "long:", 1)) for e in own(path)]


def chat_messages(path: Path = CHAT) -> list[Example]:
    """Companion chat messages that nothing trains on (``chat:<topic>``), written apart
    from every other own set: per language, 100 benign ones (flirting, figures of speech
    with death words, sleep, endings that are not a life's, ordinary sadness, chores with
    "kill" or "hack" in them) and 35 of a person at risk (``chat:crisis``, ``self_harm``),
    plainly or by warning signs."""
    with path.open(encoding="utf-8", newline="") as f:
        return [Example(text=row["text"], source=f"chat:{row['label']}", lang=row["lang"],
                        labels=frozenset({"self_harm"}) if row["label"] == "crisis"
                        else frozenset())
                for row in csv.DictReader(f, delimiter="\t")]  # fmt: skip


def fresh(path: Path = FRESH) -> list[Example]:
    """Own harmful and scary-but-benign messages that nothing trains on (``fresh:<label>``).

    Written to a taxonomy of seven policy areas (illegal activity, cybercrime, hate and
    harassment, physical harm, fraud, economic harm, privacy) after the classifier was
    trained, they check how it meets requests phrased unlike its training data. Kept out
    of training on purpose: as training data they lowered the held-out figures (harmful
    detection on the forbidden questions 0.856 -> 0.815, NotInject false positives
    0.044 -> 0.053), since many of them share words with benign prompts.
    """
    return [replace(e, source=e.source.replace("own:", "fresh:", 1)) for e in own(path)]


def everything(data: Path) -> list[Example]:
    """Shared dev sets, C-SSRS posts and the own file."""
    return shared(data) + cssrs(data) + own()


@dataclass(frozen=True, kw_only=True)
class Document:
    """A benign document (content, not a message): own, or a LoCoMo transcript."""

    text: str
    kind: str
    """``email``, ``web``, ``recipe``, ... for own documents; ``dialogue`` for LoCoMo."""
    lang: str = "en"
    source: str = "own"


def own_documents(path: Path = OWN_DOCUMENTS) -> list[Document]:
    """This repository's own benign documents (``\\n`` in the file is a line break)."""
    with path.open(encoding="utf-8") as fh:
        return [
            Document(text=row["text"].replace("\\n", "\n"), kind=row["kind"], lang=row["lang"])
            for row in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        ]


def own_requests(path: Path = OWN_REQUESTS) -> list[tuple[str, str]]:
    """(language, text) of the own requests and reply instructions (content positives)."""
    with path.open(encoding="utf-8") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [(row["lang"], row["text"]) for row in rows]


def locomo_documents(data: Path, *, turns: int = 6, step: int = 12) -> list[Document]:
    """Transcripts of ``turns`` LoCoMo turns ("Name: text" lines), one every ``step``
    turns of each session; empty when the set is absent."""
    path = data / "locomo" / "locomo_dev.json"
    if not path.is_file():
        return []
    out = []
    for item in json.loads(path.read_text(encoding="utf-8")):
        conversation = item["conversation"]
        for key, session in conversation.items():
            if not re.fullmatch(r"session_\d+", key):
                continue
            for i in range(0, len(session) - turns, step):
                lines = [f"{t['speaker']}: {t['text']}" for t in session[i : i + turns]]
                out.append(Document(text="\n".join(lines), kind="dialogue", source="locomo"))
    return out


@dataclass(frozen=True)
class Conversation:
    """One person's messages in an everyday conversation, oldest first."""

    messages: tuple[str, ...]
    source: str
    """``memorybank en``, ``memorybank zh`` or ``locomo``."""


def everyday_conversations(data: Path) -> list[Conversation]:
    """Everyday chats no classifier learns from (evaluation only; empty where absent).

    MemoryBank-SiliconFriend: each simulated user's messages to a companion over ten days
    (English and Chinese). LoCoMo: each speaker's turns of each session (two friends).
    """
    out = []
    for lang, folder in (("en", "en"), ("zh", "cn")):
        path = data / "memorybank_siliconfriend" / folder / f"memory_bank_{folder}.json"
        if path.is_file():
            for user in json.loads(path.read_text(encoding="utf-8")).values():
                said = [turn["query"] for day in user["history"].values() for turn in day]
                out.append(Conversation(messages=tuple(said), source=f"memorybank {lang}"))
    path = data / "locomo" / "locomo_dev.json"
    if path.is_file():
        for item in json.loads(path.read_text(encoding="utf-8")):
            for key, session in item["conversation"].items():
                if not re.fullmatch(r"session_\d+", key):
                    continue
                for speaker in sorted({turn["speaker"] for turn in session}):
                    said = [turn["text"] for turn in session if turn["speaker"] == speaker]
                    out.append(Conversation(messages=tuple(said), source="locomo"))
    return out
