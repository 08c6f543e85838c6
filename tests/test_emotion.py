"""The universal emotion engine, its shipped weights, the orb mapping and the LLM mode."""

from __future__ import annotations

import json
import shutil
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from miolumi.core.emotion import (
    LABELS,
    EmotionEngine,
    EmotionState,
    analyze_with_model,
    blend,
    companion_response,
    detect_language,
    ease_in_out,
    orb_for,
)
from miolumi.core.emotion import engine as engine_module
from miolumi.core.emotion import features as features_module
from miolumi.core.emotion.classifier import (
    EMBEDDING_DIMENSIONS,
    WEIGHTS_DIR,
    Calibration,
    EmbeddingHead,
    FineColumns,
    load_head,
)
from miolumi.core.emotion.features import (
    WORD_MARK,
    Featurizer,
    char_grams,
    char_keys,
    cue_features,
    gram_keys,
    normalize,
)
from miolumi.core.emotion.lexicon import cue_counts
from miolumi.core.emotion.orb import LOOKS
from miolumi.core.emotion.packing import LEVELS, quantize, unpack
from miolumi.core.memory.embeddings import UseM3Embedding, embed_queries
from miolumi.errors import EmbeddingError, EmotionModelError
from miolumi.testing import ScriptedChatModel

engine = EmotionEngine()


@pytest.mark.parametrize(
    ("text", "label", "language"),
    [
        ("I'm so happy, thank you so much!", "joy", "en"),
        ("My grandmother died last night and I can't stop crying.", "sadness", "en"),
        ("I'm terrified of the surgery tomorrow.", "fear", "en"),
        ("今天真的太开心了，谢谢大家！", "joy", "zh"),
        ("我好难过，想哭", "sadness", "zh"),
        ("試験に合格して本当に嬉しい！", "joy", "ja"),
        ("夜道を一人で歩くのが怖い。", "fear", "ja"),
    ],
)
def test_analyze_reads_the_emotion(text: str, label: str, language: str) -> None:
    state = engine.analyze(text)
    assert state.label == label
    assert state.language == language
    assert set(state.scores) == set(LABELS)
    assert sum(state.scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert -1 <= state.valence <= 1 and 0 <= state.arousal <= 1 and 0 <= state.intensity <= 1


def test_valence_follows_the_label() -> None:
    assert engine.analyze("This is the best day of my life!").valence > 0.3
    assert engine.analyze("I feel so lonely and sad tonight.").valence < -0.3


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_neutral(text: str) -> None:
    state = engine.analyze(text)
    assert state.label == "neutral" and state.language == "und" and state.intensity == 0


def test_emoji_only_and_mixed_languages() -> None:
    assert engine.analyze("😭😭😭").label == "sadness"
    assert engine.analyze("🎉🥳").label == "joy"
    mixed = engine.analyze("I'm so happy today, 今天太开心了！")
    assert mixed.label == "joy"
    assert detect_language("今天 is good") in ("zh", "en")


def test_a_50_kb_paste_is_read_quickly() -> None:
    paste = "I am so tired of all this, it is awful. " * 1300
    assert len(paste) > 50_000
    start = time.perf_counter()
    state = engine.analyze(paste)
    assert time.perf_counter() - start < 1.0  # generous: the benchmark measures latency
    assert state.label in LABELS


def test_history_keeps_one_word_from_flipping_the_mood() -> None:
    sad = engine.analyze("I lost my job today and I feel completely hopeless and sad.")
    assert sad.label == "sadness"
    alone = engine.analyze("lol")
    smoothed = engine.analyze("lol", history=[sad, sad])
    assert alone.label != "sadness"
    assert smoothed.label == "sadness"
    baseline = engine.analyze("ok", baseline=sad)
    assert baseline.scores["sadness"] > engine.analyze("ok").scores["sadness"]


def test_state_round_trips_through_dicts() -> None:
    state = engine.analyze("Wow, I did not expect that at all!")
    again = type(state).from_dict(state.to_dict())
    assert again.label == state.label
    assert again.scores == pytest.approx(state.scores, abs=1e-3)


def test_shipped_weights_are_small_plain_arrays() -> None:
    files = list(WEIGHTS_DIR.iterdir())
    assert sum(f.stat().st_size for f in files) < 20_000_000
    # The repository takes no file over 2 MB.
    assert {f.name: f.stat().st_size for f in files if f.stat().st_size > 2_000_000} == {}
    for path in files:
        if path.suffix == ".npz":
            with zipfile.ZipFile(path) as archive:
                assert all(name.endswith(".npy") for name in archive.namelist())


def test_orb_mapping_covers_the_required_states() -> None:
    calm = orb_for(engine.analyze("The meeting is on Tuesday at 10."))
    assert calm.name == "calm" and calm.colour == LOOKS["calm"].colour
    happy = orb_for(companion_response(engine.analyze("That's nice, thanks.")))
    assert happy.name in ("happy", "excited")
    excited = orb_for(engine.analyze("OMG I WON!!! This is amazing, I'm so excited!!!"))
    assert excited.name == "excited" and excited.colour == "#FF8C1A"
    sad = orb_for(engine.analyze("My dog died. I miss him so much, I can't stop crying."))
    assert sad.name == "sad" and sad.colour == "#9B7EDE"
    tender = orb_for(companion_response(sad_user()))
    assert tender.name == "tender"
    assert LOOKS["happy"].colour == "#F5B942"
    assert sad.pulse_hz < calm.pulse_hz < excited.pulse_hz


def sad_user() -> EmotionState:
    return engine.analyze("I feel so sad and alone since she left.")


def test_transitions_are_eased() -> None:
    calm = orb_for(engine.analyze("ok"))
    excited = orb_for(engine.analyze("OMG I WON!!! This is amazing, I'm so excited!!!"))
    assert ease_in_out(0) == 0 and ease_in_out(1) == 1 and ease_in_out(0.5) == 0.5
    steps = [blend(calm, excited, t / 10) for t in range(11)]
    assert steps[0].colour == calm.colour and steps[-1].colour == excited.colour
    pulses = [s.pulse_hz for s in steps]
    assert pulses == sorted(pulses)
    # Eased: the first and last tenth move less than the middle one.
    assert pulses[1] - pulses[0] < pulses[6] - pulses[5]


async def test_llm_mode_uses_the_model_and_falls_back_on_bad_answers() -> None:
    model = ScriptedChatModel(replies=['{"label": "fear", "intensity": 0.9}'])
    state = await analyze_with_model(engine, "the exam is tomorrow", model=model, structured=False)
    assert state.label == "fear"
    bad = ScriptedChatModel(replies=["I think it is happy? not JSON"])
    text = "I'm so happy, thank you so much!"
    fallback = await analyze_with_model(engine, text, model=bad, structured=False)
    assert fallback.label == engine.analyze(text).label


@pytest.mark.parametrize(
    "text", ["hi you!", "今天真的太开心了 😭", "試験に合格して", "a", "x" * 3000]
)
def test_run_time_keys_match_the_training_n_grams(text: str) -> None:
    norm = normalize(text)
    grams = char_grams(norm)
    assert gram_keys(grams).tolist() == char_keys(norm).tolist()
    assert len(set(grams)) == len(set(char_keys(norm).tolist()))


def test_featurizer_finds_exactly_the_vocabulary_n_grams() -> None:
    vocabulary = [WORD_MARK + "happy", f"{WORD_MARK}so {WORD_MARK}happy", "ap", "开心", " s"]
    featurizer = Featurizer.build(vocabulary, np.ones(len(vocabulary), dtype=np.float32))
    assert sorted(featurizer.columns("so happy").tolist()) == [0, 1, 2, 4]
    assert featurizer.columns("好开心").tolist() == [3]
    index, values = featurizer.vector("happy, so happy")
    assert index.tolist() == [0, 1, 2, 4]
    assert values[0] == values[2] > values[1] == values[3]
    assert float(np.dot(values, values)) == pytest.approx(1.0)
    assert featurizer.columns("nothing known").tolist() == []


def copy_weights(directory: Path) -> None:
    """The shipped weights, copied to ``directory`` for a test to alter."""
    shutil.copytree(WEIGHTS_DIR, directory, dirs_exist_ok=True)


def test_damaged_weights_name_the_fix(tmp_path: Path) -> None:
    copy_weights(tmp_path)
    with np.load(tmp_path / "emotion_en.npz") as data:
        arrays = dict(data)
    arrays["vocabulary"] = arrays["vocabulary"][:100]
    np.savez(tmp_path / "emotion_en.npz", **arrays)
    with pytest.raises(EmotionModelError, match=r"train_emotion\.py"):
        EmotionEngine(weights_dir=tmp_path).analyze("hello there")


def test_quantized_matrices_round_trip_within_half_a_step(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    matrix = rng.normal(scale=[0.1, 3.0, 50.0], size=(400, 3)).astype(np.float32)
    matrix[:, 0] = 0.0  # a column without weights keeps them all 0
    matrix[7, 2] = 0.0
    np.savez_compressed(tmp_path / "m.npz", **quantize("m", matrix))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        assert data["m"].dtype == np.int8
        back = unpack(data, "m")
    step = np.abs(matrix).max(axis=0) / LEVELS
    assert back.dtype == np.float32 and back.shape == matrix.shape
    assert np.all(np.abs(back - matrix) <= step / 2 + 1e-6)
    assert np.all(back[:, 0] == 0.0) and back[7, 2] == 0.0
    assert np.abs(back).max(axis=0)[1:] == pytest.approx(np.abs(matrix).max(axis=0)[1:])


def test_the_loader_reads_quantized_weights_as_the_plain_ones(tmp_path: Path) -> None:
    copy_weights(tmp_path)
    with np.load(tmp_path / "emotion_zh.npz") as data:
        arrays = dict(data)
    plain = arrays.pop("weights").astype(np.float32)
    arrays.update(quantize("weights", plain))
    np.savez_compressed(tmp_path / "emotion_zh.npz", **arrays)
    shipped, packed = load_head("zh"), load_head("zh", tmp_path)
    assert np.abs(packed.weights - shipped.weights).max() <= np.abs(plain).max() / LEVELS / 2
    text = normalize("今天真的太开心了，谢谢大家！")
    assert packed.scores(text) == pytest.approx(shipped.scores(text), abs=0.02)
    arrays["weights_scale"] = arrays["weights_scale"][:3]
    np.savez_compressed(tmp_path / "emotion_zh.npz", **arrays)
    with pytest.raises(EmotionModelError, match=r"train_emotion\.py"):
        EmotionEngine(weights_dir=tmp_path).analyze("你好")


def _embedding(text: str) -> np.ndarray:
    """What memory computes for ``text`` when it retrieves for it."""
    return embed_queries(UseM3Embedding(), [text])[0]


def test_the_engine_reads_the_embedding_memory_computes() -> None:
    assert engine.embedding_model == UseM3Embedding.name()
    for lang in ("en", "zh"):
        head = load_head(lang).embedding
        assert head is not None
        reads = head.hidden[0] if head.hidden is not None else head.weights
        assert reads.shape[0] == EMBEDDING_DIMENSIONS
        assert head.scores(np.ones(EMBEDDING_DIMENSIONS, np.float32)).shape == (len(LABELS),)


def test_the_english_head_also_scores_goemotions_fine_emotions() -> None:
    head = load_head("en")
    assert head.fine is not None and head.fine.weights.shape[1] == 28
    text = normalize("Thank you so much, I really appreciate it!")
    index, values = head.featurizer.vector(text)
    without = replace(head, fine=None)
    added = head.scores(text) - without.scores(text)
    assert added == pytest.approx(head.fine.scores(index, values), rel=1e-5)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I'm so happy, thank you so much!", "joy"),
        ("My grandmother died last night and I can't stop crying.", "sadness"),
        ("今天真的太开心了，谢谢大家！", "joy"),
        ("夜道を一人で歩くのが怖い。", "fear"),
    ],
)
def test_analyze_with_the_embedding(text: str, label: str) -> None:
    plain = engine.analyze(text)
    vector = _embedding(text)
    state = engine.analyze(text, embedding=vector)
    assert state.label == label
    assert state.language == plain.language
    assert sum(state.scores.values()) == pytest.approx(1.0, abs=1e-3)
    unrounded = engine.read(text, embedding=vector)[0]
    assert not np.allclose(unrounded, engine.read(text)[0], rtol=0, atol=1e-9)
    assert engine.analyze(text, embedding=vector.tolist()).scores == state.scores


def test_an_embedding_of_another_model_names_the_fix() -> None:
    with pytest.raises(EmbeddingError, match="MIOLUMI_EMBEDDINGS=use-m3"):
        engine.analyze("hello", embedding=np.zeros(384, dtype=np.float32))


def test_weights_without_an_embedding_head_ignore_the_embedding(tmp_path: Path) -> None:
    copy_weights(tmp_path)
    meta_path = tmp_path / "emotion_model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    for head in meta["heads"].values():
        del head["embedding"]
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    older = EmotionEngine(weights_dir=tmp_path)
    text = "I'm terrified of the surgery tomorrow."
    with_vector = older.analyze(text, embedding=_embedding(text))
    assert with_vector.scores == older.analyze(text).scores == engine.analyze(text).scores


def test_a_damaged_embedding_head_names_the_fix(tmp_path: Path) -> None:
    copy_weights(tmp_path)
    with np.load(tmp_path / "emotion_zh.npz") as data:
        arrays = dict(data)
    arrays["embedding_weights"] = arrays["embedding_weights"][:100]
    np.savez(tmp_path / "emotion_zh.npz", **arrays)
    with pytest.raises(EmotionModelError, match=r"train_emotion\.py"):
        EmotionEngine(weights_dir=tmp_path).analyze("你好")


def test_an_embedding_head_with_a_hidden_layer_applies_relu() -> None:
    rng = np.random.default_rng(0)
    hidden_w = rng.normal(size=(EMBEDDING_DIMENSIONS, 8)).astype(np.float32)
    hidden_b = rng.normal(size=8).astype(np.float32)
    out_w = rng.normal(size=(8, len(LABELS))).astype(np.float32)
    out_b = np.zeros(len(LABELS), dtype=np.float32)
    calibration = Calibration(offsets=np.zeros(len(LABELS), np.float32), temperature=1.0)
    head = EmbeddingHead(
        weights=out_w, bias=out_b, mix=1.0, calibration=calibration, hidden=(hidden_w, hidden_b)
    )
    x = rng.normal(size=EMBEDDING_DIMENSIONS).astype(np.float32)
    expected = np.maximum(x @ hidden_w + hidden_b, 0) @ out_w
    assert head.scores(x) == pytest.approx(expected, rel=1e-4)
    linear = EmbeddingHead(weights=out_w, bias=out_b, mix=1.0, calibration=calibration)
    assert not np.allclose(linear.scores(x[:8]), head.scores(x))


def test_the_chinese_head_pools_its_cue_words() -> None:
    head = load_head("zh")
    assert head.cues is not None and head.cues.language == "zh"
    text = normalize("我好害怕，真的很担心明天的手术")
    counts = cue_features(text, "zh", 1.0)
    assert counts[LABELS.index("fear")] == pytest.approx(np.log1p(3))  # 害怕, 担心, 怕
    without = replace(head, cues=None)
    added = head.scores(text) - without.scores(text)
    assert added == pytest.approx(counts * head.cues.scale @ head.cues.weights, rel=1e-5)
    # Fear cues raise fear more than any other label.
    assert int(np.argmax(added)) == LABELS.index("fear")
    calm = normalize("今天天气")  # no cue word: nothing added
    assert head.scores(calm) == pytest.approx(without.scores(calm))


def test_a_chinese_message_has_its_cue_words_counted_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "我好害怕，真的很担心明天的手术"
    before = engine.read(text)
    counted: list[str] = []

    def counting(text: str, language: str) -> dict[str, int]:
        counted.append(language)
        return cue_counts(text, language)

    monkeypatch.setattr(features_module, "cue_counts", counting)
    monkeypatch.setattr(engine_module, "cue_counts", counting)
    after = engine.read(text)
    assert counted == ["zh"]  # by the engine; the Chinese head reuses its counts
    assert after[0] == pytest.approx(before[0]) and after[1:] == before[1:]
    engine.read("私はとても怖い")  # Japanese: the head counts its own (Chinese) cues
    assert counted[1:] == ["ja", "zh"]


def test_weights_without_cue_columns_still_load_and_damaged_ones_name_the_fix(
    tmp_path: Path,
) -> None:
    copy_weights(tmp_path)
    meta_path = tmp_path / "emotion_model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    del meta["heads"]["zh"]["cues"]
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    assert load_head("zh", tmp_path).cues is None
    meta["heads"]["zh"]["cues"] = {"language": "zh", "scale": 0.4}
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with np.load(tmp_path / "emotion_zh.npz") as data:
        arrays = dict(data)
    arrays["cue_weights"] = arrays["cue_weights"][:3]
    np.savez(tmp_path / "emotion_zh.npz", **arrays)
    with pytest.raises(EmotionModelError, match=r"train_emotion\.py"):
        EmotionEngine(weights_dir=tmp_path).analyze("你好")


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        ("今天很开心", {"joy": 1}),
        ("今天不开心", {}),  # a negator right before the cue
        ("不开心，但是见到你很开心", {"joy": 1}),  # one affirmed occurrence is enough
        ("没想到", {"surprise": 1}),  # a cue that starts with a negator is itself
        ("又加班[允悲]", {"sadness": 1}),  # a Weibo sticker
        ("好的[心][心]", {"joy": 1}),
    ],
)
def test_chinese_cues_skip_negated_words_and_read_stickers(
    text: str, counts: dict[str, int]
) -> None:
    assert cue_counts(normalize(text), "zh") == counts


def test_stickers_are_read_in_chinese_only() -> None:
    assert cue_counts(normalize("ok [心]"), "en") == {}


def test_fine_columns_give_each_label_its_best_fine_score() -> None:
    rng = np.random.default_rng(1)
    groups = np.array([0, 1, 2, 3, 3, 3, 4, 5, 6, 6])  # joy and neutral have several
    weights = rng.normal(size=(5, len(groups))).astype(np.float32)
    bias = rng.normal(size=len(groups)).astype(np.float32)
    fine = FineColumns(weights=weights, bias=bias, groups=groups, mix=0.5)
    index = np.array([1, 3])
    values = np.array([0.6, 0.8], dtype=np.float32)
    raw = bias + values @ weights[index]
    expected = [0.5 * raw[groups == label].max() for label in range(len(LABELS))]
    assert fine.scores(index, values) == pytest.approx(expected, rel=1e-5)
    assert fine.scores(np.zeros(0, np.int64), np.zeros(0, np.float32)) == pytest.approx(
        [0.5 * bias[groups == label].max() for label in range(len(LABELS))], rel=1e-5
    )
