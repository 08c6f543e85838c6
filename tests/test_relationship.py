"""The relationship engine: progression, regression, hysteresis, cooling, age rule, storage."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from miolumi.core.relationship import (
    AgeStatus,
    Axes,
    EmotionSignal,
    Ladder,
    RelationshipEngine,
    RelationshipState,
    RelationshipStore,
    Stage,
    StageChange,
    Step,
    TurnSignal,
    disclosure,
    says_minor,
    signal_from_text,
    text_emotion,
)
from miolumi.errors import AgeConfirmationError
from miolumi.mio.persona import RelationshipConfig

# On PostgreSQL and a Chroma server too, when configured (tests/servers.py).
pytestmark = pytest.mark.scaleout

T0 = datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
LADDER = RelationshipConfig().ladder()  # strangers -> flirting -> lovers
ENGINE = RelationshipEngine()

WARM = [
    "Haha thanks, you're so sweet!",
    "Honestly I feel like I can tell you anything. My mom never listened to me.",
    "I love talking to you, this is fun",
    "I've never told anyone this, but I'm scared of failing my exams. My dad expects so much.",
]
COLD = ["whatever", "k", "you're boring", "leave me alone", "ok", "shut up"]


def run(
    state: RelationshipState,
    texts: list[str],
    *,
    start: datetime,
    age: AgeStatus = AgeStatus.ADULT,
    ladder: Ladder = LADDER,
) -> tuple[RelationshipState, list[Step]]:
    steps = []
    for i, text in enumerate(texts):
        step = ENGINE.step(
            state,
            signal_from_text(text, at=start + timedelta(minutes=3 * i)),
            ladder=ladder,
            age=age,
        )
        steps.append(step)
        state = step.state
    return state, steps


def warm_days(
    state: RelationshipState, days: int, *, age: AgeStatus = AgeStatus.ADULT, first: int = 0
) -> tuple[RelationshipState, list[StageChange]]:
    changes = []
    for day in range(first, first + days):
        state, steps = run(state, WARM * 2, start=T0 + timedelta(days=day), age=age)
        changes += [s.change for s in steps if s.change]
    return state, changes


def fresh() -> RelationshipState:
    return ENGINE.initial(user_id="u1", agent_id="mio", ladder=LADDER)


def test_warm_conversation_progresses_through_the_ladder_over_days() -> None:
    state, changes = warm_days(fresh(), 1)
    assert state.stage == "strangers"  # one evening is not enough
    state, more = warm_days(state, 10, first=1)
    changes += more
    assert [(c.from_stage, c.to_stage, c.reason) for c in changes] == [
        ("strangers", "flirting", "progress"),
        ("flirting", "lovers", "progress"),
    ]
    assert state.stage == "lovers"
    assert state.visits == 11
    assert state.axes.familiarity > 0.6


def test_turning_cold_regresses_one_rung_at_a_time_and_is_reversible() -> None:
    state, _ = warm_days(fresh(), 12)
    assert state.stage == "lovers"
    state, steps = run(state, COLD * 5, start=T0 + timedelta(days=13))
    down = [(s.change.from_stage, s.change.to_stage, s.change.reason) for s in steps if s.change]
    assert down == [("lovers", "flirting", "regress"), ("flirting", "strangers", "regress")]
    assert state.axes.affection < 0.1
    # Not locked: warmth brings it back.
    state, changes = warm_days(state, 6, first=14)
    assert state.stage != "strangers"
    assert changes[0].reason == "progress"


def test_one_message_moves_each_axis_at_most_max_step() -> None:
    state, _ = warm_days(fresh(), 12)
    furious = TurnSignal(
        emotion=EmotionSignal(valence=-1.0, arousal=1.0, label="anger"),
        disclosure=0.0,
        at=state.last_contact + timedelta(minutes=1),  # type: ignore[operator]
    )
    step = ENGINE.step(state, furious, ladder=LADDER, age=AgeStatus.ADULT)
    for axis in ("affection", "trust"):
        drop = state.axes.get(axis) - step.state.axes.get(axis)  # type: ignore[arg-type]
        assert 0 < drop <= ENGINE.tuning.max_step + 1e-9
    assert step.state.stage == "lovers"  # one outburst does not end it


def test_hysteresis_holds_a_stage_just_below_its_threshold() -> None:
    ladder = Ladder(
        stages=(Stage(id="a", label="A"), Stage(id="b", label="B", requires={"affection": 0.5})),
        hysteresis=0.1,
    )
    neutral = EmotionSignal(valence=0.0, arousal=0.1, label="neutral")
    state = RelationshipState(
        user_id="u", agent_id="x", stage="b", axes=Axes(affection=0.45), last_contact=T0
    )
    hold = ENGINE.step(
        state, TurnSignal(emotion=neutral, disclosure=0, at=T0), ladder=ladder, age=AgeStatus.ADULT
    )
    assert hold.state.stage == "b" and hold.change is None
    below = replace(state, axes=Axes(affection=0.39))
    drop = ENGINE.step(
        below, TurnSignal(emotion=neutral, disclosure=0, at=T0), ladder=ladder, age=AgeStatus.ADULT
    )
    assert drop.state.stage == "a" and drop.change is not None
    # ...and re-entering needs the full threshold, not the lowered one.
    again = ENGINE.step(
        replace(drop.state, axes=Axes(affection=0.45)),
        TurnSignal(emotion=neutral, disclosure=0, at=T0),
        ladder=ladder,
        age=AgeStatus.ADULT,
    )
    assert again.state.stage == "a"


def test_long_absence_cools_the_relationship() -> None:
    state, _ = warm_days(fresh(), 12)
    later = state.last_contact + timedelta(days=120)  # type: ignore[operator]
    step = ENGINE.step(state, signal_from_text("hey", at=later), ladder=LADDER, age=AgeStatus.ADULT)
    assert step.state.axes.affection < state.axes.affection - 0.3
    assert step.change is not None and step.change.reason == "cooling"


def test_romance_needs_a_confirmed_adult() -> None:
    state, changes = warm_days(fresh(), 12, age=AgeStatus.UNKNOWN)
    assert state.stage == "strangers"  # the axes would allow lovers; the age rule does not
    assert changes == []
    step = ENGINE.step(
        state,
        signal_from_text("thanks!", at=state.last_contact + timedelta(minutes=1)),  # type: ignore[operator]
        ladder=LADDER,
        age=AgeStatus.ADULT,
    )
    assert step.state.stage == "flirting"


def test_saying_you_are_a_minor_leaves_romantic_stages_at_once() -> None:
    ladder = RelationshipConfig.model_validate(
        {
            "stages": [
                {"id": "strangers", "label": "S", "behaviour": "b"},
                {"id": "friends", "label": "F", "behaviour": "b", "requires": {"affection": 0.2}},
                {
                    "id": "lovers",
                    "label": "L",
                    "behaviour": "b",
                    "romantic": True,
                    "requires": {"affection": 0.5},
                },
            ]
        }
    ).ladder()
    state = RelationshipState(
        user_id="u", agent_id="x", stage="lovers", axes=Axes(affection=0.9), last_contact=T0
    )
    step = ENGINE.step(
        state, signal_from_text("lol i'm 15 btw", at=T0), ladder=ladder, age=AgeStatus.ADULT
    )
    assert step.age is AgeStatus.MINOR
    assert not step.romance_allowed
    assert step.state.stage == "friends"  # the highest non-romantic stage below
    assert step.change is not None and step.change.reason == "age"
    again = ENGINE.step(
        step.state, signal_from_text("love you!", at=T0), ladder=ladder, age=AgeStatus.MINOR
    )
    assert again.state.stage == "friends"


@pytest.mark.parametrize(
    "text",
    [
        "I'm 15",
        "i am 16 years old",
        "I'm only 14 lol",
        "I'm a minor",
        "I'm in high school",
        "im in 10th grade",
        "wait, I'm 17 actually",
        "i'm 15-year-old",
        "I'm a 16 year old girl",
        "我今年15岁",
        "我是高中生",
        "我还没成年",
        "私は16歳です",
        "高校生です",
        "まだ未成年なんだ",
    ],
)
def test_minor_statements_are_recognised(text: str) -> None:
    assert says_minor(text)


@pytest.mark.parametrize(
    "text",
    [
        "I'm 15 minutes late",
        "my sister is 15",
        "I'm 25",
        "I'm 18 now",
        "I teach high school",
        "我今年25岁",
        "私は30歳です",
        "I'm 16 km away",
        "I'm 15% sure",
    ],
)
def test_other_statements_are_not_read_as_minors(text: str) -> None:
    assert not says_minor(text)


def test_text_signals_read_warmth_coldness_sadness_and_disclosure() -> None:
    assert text_emotion("thank you so much, haha!").label == "joy"
    assert text_emotion("whatever").label == "cold"
    assert text_emotion("k").label == "cold"
    assert text_emotion("我好难过，好孤独").label == "sadness"
    assert text_emotion("うるさい").label == "cold"
    assert disclosure("ok") < 0.2
    assert disclosure("Honestly, my dad and I haven't spoken since I was twelve.") > 0.6


def test_store_keeps_state_history_and_age(tmp_path: Path) -> None:
    store = RelationshipStore(url=f"sqlite:///{tmp_path / 'r.db'}")
    try:
        state, _ = warm_days(store.load("u1", "mio", ladder=LADDER), 12, age=store.age("u1"))
        assert state.stage == "strangers"  # nobody confirmed adulthood yet
        store.confirm_adult("u1", source="test")
        state = store.load("u1", "mio", ladder=LADDER)
        for day in range(12):
            for text in WARM * 2:
                at = T0 + timedelta(days=day, minutes=len(text))
                step = ENGINE.step(
                    state, signal_from_text(text, at=at), ladder=LADDER, age=store.age("u1")
                )
                store.save(step)
                state = store.load("u1", "mio", ladder=LADDER)
        assert state.stage == "lovers"
        assert [(c.from_stage, c.to_stage) for c in store.history("u1", "mio")] == [
            ("strangers", "flirting"),
            ("flirting", "lovers"),
        ]
        assert store.history("u1", "other") == []
        assert store.load("u1", "other", ladder=LADDER).stage == "strangers"
        # A stated minor age is stored with the step and cannot be confirmed away.
        step = ENGINE.step(
            state,
            signal_from_text("actually I'm 16", at=state.last_contact + timedelta(minutes=1)),  # type: ignore[operator]
            ladder=LADDER,
            age=store.age("u1"),
        )
        store.save(step)
        assert store.age("u1") is AgeStatus.MINOR
        assert store.load("u1", "mio", ladder=LADDER).stage == "strangers"
        assert store.history("u1", "mio")[-1].reason == "age"
        with pytest.raises(AgeConfirmationError, match="under 18"):
            store.confirm_adult("u1", source="test")
        store.confirm_adult("u1", source="operator age check", override_minor=True)
        assert store.age("u1") is AgeStatus.ADULT
    finally:
        store.close()


def test_global_relationship_is_kept_apart_from_personas(tmp_path: Path) -> None:
    store = RelationshipStore(url=f"sqlite:///{tmp_path / 'r.db'}")
    try:
        state = store.load("u1", ladder=LADDER)
        assert state.agent_id is None
        step = ENGINE.step(
            state, signal_from_text("hi!", at=T0), ladder=LADDER, age=AgeStatus.UNKNOWN
        )
        store.save(step)
        assert store.load("u1", ladder=LADDER).turns == 1
        assert store.load("u1", "mio", ladder=LADDER).turns == 0
    finally:
        store.close()
