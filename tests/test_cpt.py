"""The continued-pretraining harness: pool building, arms under one token budget, packing,
bits per byte, and a training loop that learns planted data and resumes to the same weights."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
import transformers as tf
from pydantic import ValidationError
from tiny_models import build_tokenizer

from cpt.arms import Pool, _check_same_bank, arm_run_config, kept_texts, label_metrics
from cpt.baselines import BaselineScorer, oracle_scores, random_scores, tfidf_scores
from cpt.bpb import bits_per_byte, document_windows
from cpt.config import CptConfig, TrainConfig
from cpt.report import arm_outcomes, markdown_table, oracle_share, write_report
from cpt.study import pick_learning_rate, run_identity, training_steps
from cpt.train import RESULT, StudyError, evaluation_steps, lr_factor, pack, train
from discovery.corpus.pool import PoolCorpusConfig, assemble_pool
from discovery.corpus.sources import SourceText
from rosetta_filter.config import load_config
from rosetta_filter.errors import BankError
from rosetta_filter.filtering.pipeline import run
from rosetta_filter.scoring.bank import bank_digest

pytestmark = pytest.mark.usefixtures("one_thread")

CODE = "def f{i}(x):\n    return x * {i} + {j}  # value\n"
PROSE = "The river ran past the old mill {i} times, and the miller counted {j} boats.\n"


@pytest.fixture(scope="module")
def tokenizer():
    tok = build_tokenizer()
    tok.eos_token = "<s>"  # the tiny tokenizer's only document marker
    return tok


def _tiny_lm(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    cfg = tf.LlamaConfig(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=1024,
    )
    return tf.LlamaForCausalLM(cfg)


def _pool_records(n: int = 60) -> list[dict]:
    """A pool with 1 in 4 documents of the target domain, all of different lengths."""
    rows = []
    for i in range(n):
        code = i % 4 == 0
        text = "".join((CODE if code else PROSE).format(i=i, j=j) for j in range(1 + i % 7))
        rows.append({"id": f"d{i}", "text": text, "domain": "code" if code else "prose"})
    return rows


# ---------------------------------------------------------------- pool corpus
def _texts(name: str, n: int, chars: int = 450) -> list[SourceText]:
    return [SourceText((f"{name} unit {u} " * 200)[:chars], f"{name}/u{u}", name) for u in range(n)]


def test_pool_keeps_eval_families_out_and_reports_the_target_share(tmp_path):
    cfg = PoolCorpusConfig(
        target="code",
        pool={"rust-crates": 3, "brown": 9},
        target_eval={"python-stdlib": 2},
        general_eval={"moby-dick": 2},
        min_chars=200,
        max_chars=500,
        target_chars=450,
        out_dir=tmp_path,
    )
    texts = {
        "rust-crates": _texts("rust", 5),
        "brown": _texts("brown", 20),
        "python-stdlib": _texts("py", 4),
        "moby-dick": _texts("moby", 4),
    }
    docs, stats = assemble_pool(texts, cfg)
    assert [len(docs[p]) for p in ("pool", "target_eval", "general_eval")] == [12, 2, 2]
    assert {d.family for d in docs["pool"]} == {"rust-crates", "brown"}
    assert {d.family for d in docs["target_eval"]} == {"python-stdlib"}
    assert stats["rust-crates"] == {"available": 5, "duplicates": 0, "docs": 3, "chars": 1350}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target_eval": {"rust-crates": 2}}, "also in pool"),
        ({"target_eval": {"moby-dick": 2}}, "a prose family, not code"),
        ({"general_eval": {"python-stdlib": 2}}, "a code family"),
        ({"pool": {"brown": 5}}, "no code family"),
        ({"pool": {"nope": 5}}, "unknown family"),
    ],
)
def test_pool_config_names_the_mistake(change, message):
    settings = {
        "target": "code",
        "pool": {"rust-crates": 3, "brown": 9},
        "target_eval": {"python-stdlib": 2},
        "general_eval": {"moby-dick": 2},
    }
    with pytest.raises(ValidationError, match=message):
        PoolCorpusConfig.model_validate(settings | change)


def test_the_shipped_study_configs_validate():
    cfg = load_config("configs/cpt.yaml", cls=CptConfig)
    PoolCorpusConfig.model_validate(__import__("yaml").safe_load(cfg.pool_config.read_text()))
    pool = Pool(cfg.out_dir / "pool.jsonl", [], 0)
    for arm in cfg.arms.names:
        run_cfg = arm_run_config(cfg, arm, pool, 1000, "code")
        assert run_cfg.selection.token_budget == 1000
        assert run_cfg.neurons.domain == "code"
    early = arm_run_config(cfg, "rosetta_early_exit", pool, 1000, "code").neurons
    assert (early.mode, early.max_layer) == ("head", cfg.arms.early_exit_layer)
    single = arm_run_config(cfg, "rosetta_single", pool, 1000, "code").neurons
    assert (single.mode, single.top_k, single.rosetta_only) == ("top_k", 1, True)


def test_a_finished_arm_is_reused_only_with_the_bank_it_was_selected_with(tmp_path):
    cfg = load_config("configs/cpt.yaml", cls=CptConfig)
    pool = Pool(tmp_path / "pool.jsonl", [], 0)
    rosetta = arm_run_config(cfg, "rosetta", pool, 1000, "code")
    out = tmp_path / "rosetta"
    out.mkdir()

    def selected_with(digest: str | None) -> None:
        (out / "manifest.json").write_text(json.dumps({"bank": {"contents_sha256": digest}}))

    selected_with(bank_digest(rosetta.neurons.bank))
    _check_same_bank(out, "rosetta", rosetta)  # the same bank: reused
    for stale in ("0" * 64, None):  # rebuilt since, or selected before banks were fingerprinted
        selected_with(stale)
        with pytest.raises(BankError, match=f"delete {out}"):
            _check_same_bank(out, "rosetta", rosetta)
    random_arm = arm_run_config(cfg, "random", pool, 1000, "code")
    _check_same_bank(out, "random", random_arm)  # a baseline never reads the bank


# ---------------------------------------------------------------- arms
@pytest.mark.parametrize("arm", ["random", "oracle", "tfidf"])
def test_every_arm_keeps_the_token_budget_exactly(tmp_path, tokenizer, arm):
    records = _pool_records()
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    counts = tokenizer([r["text"] for r in records], add_special_tokens=False)["input_ids"]
    for record, ids in zip(records, counts, strict=True):
        record["tokens"] = len(ids)
    pool = Pool(path, records, sum(r["tokens"] for r in records))
    budget = pool.tokens // 10
    cfg = CptConfig(out_dir=tmp_path / "study")
    run_cfg = arm_run_config(cfg, arm, pool, budget, "code")
    probe = _pool_records(40)
    score_fn = {
        "random": lambda: random_scores(0),
        "oracle": lambda: oracle_scores(records, "code", 0),
        "tfidf": lambda: tfidf_scores(probe, "code"),
    }[arm]()
    scorer = BaselineScorer(arm, score_fn, tokenizer, 512, {})
    run(run_cfg, scorer=scorer)
    out = tmp_path / "study" / "arms" / arm
    manifest = json.loads((out / "manifest.json").read_text())
    metrics = label_metrics(out, manifest, pool, "code")
    # the budget is filled exactly: the ranked prefix fits, one more document would not
    values = score_fn([r["text"] for r in records])
    scores = {r["id"]: float(s) for r, s in zip(records, values, strict=True)}
    ranked = sorted(records, key=lambda r: (-scores[r["id"]], int(r["id"][1:])))
    prefix = np.cumsum([r["tokens"] for r in ranked])
    n_keep = int(np.searchsorted(prefix, budget, side="right"))
    assert metrics["kept_docs"] == n_keep and metrics["kept_tokens"] == prefix[n_keep - 1]
    assert prefix[n_keep] > budget
    assert len(kept_texts(out)) == n_keep
    assert manifest["scorer"]["baseline"] == arm
    if arm in ("oracle", "tfidf"):  # the target is planted and easy: all of it comes first
        assert metrics["precision_docs"] == 1.0


def test_training_steps_fit_the_poorest_arm():
    arms = [{"kept_tokens": 5000, "kept_docs": 10}, {"kept_tokens": 4990, "kept_docs": 3}]
    assert training_steps(arms, 1000) == 4
    with pytest.raises(StudyError, match=r"raise arms\.budget_fraction"):
        training_steps(arms, 8000)


# ---------------------------------------------------------------- packing and bpb
def test_packing_is_seeded_separated_and_drops_only_the_tail(tokenizer):
    texts = [r["text"] for r in _pool_records(12)]
    a, b = pack(texts, tokenizer, 32, seed=0), pack(texts, tokenizer, 32, seed=1)
    total = sum(len(ids) + 1 for ids in tokenizer(texts, add_special_tokens=False)["input_ids"])
    assert a.shape == (total // 32, 32) and b.shape == a.shape
    assert not torch.equal(a, b) and torch.equal(a, pack(texts, tokenizer, 32, seed=0))
    assert int((a == tokenizer.eos_token_id).sum()) >= len(texts) - 2


def test_windows_predict_every_token_once():
    ids = list(range(10, 47))
    windows = document_windows(ids, 8, separator=1)
    assert windows[0][0] == 1 and all(len(w) <= 8 for w in windows)
    assert [t for w in windows for t in w[1:]] == ids
    assert all(w[0] == prev[-1] for prev, w in itertools.pairwise(windows))


def test_bits_per_byte_equals_a_direct_computation(tokenizer):
    model = _tiny_lm().eval()
    texts = [r["text"] for r in _pool_records(6)]
    groups = ["even" if i % 2 == 0 else "odd" for i in range(len(texts))]
    got = bits_per_byte(model, tokenizer, texts, window=512, batch_size=4, groups=groups)
    nats = []
    with torch.no_grad():
        for text in texts:  # one window each: the whole document is the context
            ids = [tokenizer.eos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"]]
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].double(), -1)
            nats.append(-sum(float(logp[i, ids[i + 1]]) for i in range(len(ids) - 1)))
    n_bytes = [len(t.encode()) for t in texts]
    assert got.bytes == sum(n_bytes)
    assert got.bpb == pytest.approx(sum(nats) / math.log(2) / sum(n_bytes), rel=1e-5)
    even = sum(nats[::2]) / math.log(2) / sum(n_bytes[::2])
    assert got.by_group["even"] == pytest.approx(even, rel=1e-5)


# ---------------------------------------------------------------- training
def test_schedule_warms_up_then_decays_to_the_floor():
    factors = [lr_factor(s, 20, 4, 0.1) for s in range(21)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in itertools.pairwise(factors[3:]))
    assert factors[20] == pytest.approx(0.1)
    assert evaluation_steps(10, 3) == [3, 7, 10]


def _train(tmp_path, tokenizer, steps, on_step=None, name="run"):
    texts = [PROSE.format(i=i % 3, j=i % 5) * 2 for i in range(80)]
    cfg = TrainConfig(
        seq_len=32, batch_size=4, lr=1e-2, evaluations=2, checkpoint_every=2, seeds=[0]
    )
    model = _tiny_lm()
    held = [PROSE.format(i=7, j=1)]

    def evaluate(m):
        return {"bpb": bits_per_byte(m, tokenizer, held, window=32).bpb}

    sequences = pack(texts, tokenizer, cfg.seq_len, seed=0)
    result = train(
        model, sequences, cfg, steps, tmp_path / name, evaluate=evaluate, on_step=on_step
    )
    return model, result, evaluate(_tiny_lm())["bpb"]


def test_training_lowers_the_loss_on_planted_text(tmp_path, tokenizer):
    _, result, before = _train(tmp_path, tokenizer, 20)
    assert [p["step"] for p in result["curve"]] == [10, 20]
    assert result["curve"][-1]["bpb"] < 0.6 * before
    assert not (tmp_path / "run" / "checkpoint.pt").exists()  # removed once finished


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, tokenizer):
    straight, _, _ = _train(tmp_path, tokenizer, 8, name="straight")

    def interrupt(step, loss):
        if step == 5:  # after the step-4 checkpoint, before the step-6 one
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path, tokenizer, 8, on_step=interrupt, name="resumed")
    assert not (tmp_path / "resumed" / RESULT).exists()
    resumed, _, _ = _train(tmp_path, tokenizer, 8, name="resumed")
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    with pytest.raises(StudyError, match="remove that directory"):
        _train(tmp_path, tokenizer, 9, name="resumed")


# ---------------------------------------------------------------- report
def test_the_report_gives_each_arms_share_of_the_oracle_gain(tmp_path):
    def run(target: float) -> dict:
        point = {"tokens": 100, "target_bpb": target, "general_bpb": 1.5}
        return {"curve": [point | {"target_bpb_by_family": {"shell": target + 0.1}}]}

    results = {
        "base": {"target_bpb": 1.2, "general_bpb": 1.4, "target_bpb_by_family": {"shell": 1.3}},
        "budget_tokens": 1000,
        "train_tokens": 900,
        "train_steps": 3,
        "lr": 3e-4,
        "lr_search": {"0.0001": 1.15, "0.0003": 1.10},
        "arms": {
            arm: {"precision_tokens": p, "seconds": 1.0, "layers_run": 0}
            for arm, p in (("random", 0.1), ("oracle", 1.0), ("rosetta", 0.9))
        },
        "runs": {
            "random/seed0": run(1.10),
            "random/seed1": run(1.12),
            "oracle/seed0": run(1.00),
            "rosetta/seed0": run(1.02),
        },
    }
    outcomes = arm_outcomes(results)
    assert oracle_share(outcomes, "rosetta") == pytest.approx((1.11 - 1.02) / (1.11 - 1.00))
    table = markdown_table(results)
    assert "| rosetta | 0.900 | 1 | 0 | 1.0200 (1 seed) | 1.5000 (1 seed) | 0.82 |" in table
    assert "1.1100 (1.1000-1.1200, 2 seeds)" in table and "| (before) | 1.3000 |" in table
    assert "Learning rate 0.0003, picked on the random arm's target bpb" in table
    paths = write_report(results, tmp_path)
    assert paths[1].read_bytes()[:4] == b"\x89PNG"


def test_the_learning_rate_is_the_random_arms_best_and_every_candidate_is_recorded():
    trained = []

    def target_bpb(lr: float) -> float:
        trained.append(lr)
        return {1e-4: 1.05, 3e-4: 1.01, 1e-3: 1.20}[lr]

    lr, measured = pick_learning_rate([1e-4, 3e-4, 1e-3], target_bpb)
    assert lr == 3e-4 and trained == [1e-4, 3e-4, 1e-3]
    assert measured == {"0.0001": 1.05, "0.0003": 1.01, "0.001": 1.2}
    with pytest.raises(ValidationError, match="random arm"):
        CptConfig.model_validate(
            {"arms": {"names": ["oracle"]}, "train": {"lr_candidates": [1e-4]}}
        )


def test_a_training_run_is_named_by_everything_its_result_depends_on():
    cfg = CptConfig()
    base = {"seed": 0, "lr": 1e-4, "steps": 25, "evals": "e1"}
    first = run_identity(cfg, ["a", "b"], **base)
    assert first == run_identity(cfg, ["a", "b"], **base)
    # bookkeeping that does not change the weights or the measurements keeps the directory
    bookkeeping = cfg.model_copy(
        update={"train": cfg.train.model_copy(update={"checkpoint_every": 9, "seeds": [3]})}
    )
    assert run_identity(bookkeeping, ["a", "b"], **base) == first
    changed = [
        run_identity(cfg, ["a", "c"], **base),
        run_identity(cfg, ["ab"], **base),
        *(
            run_identity(cfg, ["a", "b"], **base | {k: v})
            for k, v in (("seed", 1), ("lr", 3e-4), ("steps", 26), ("evals", "e2"))
        ),
    ]
    assert first not in changed and len(set(changed)) == len(changed)
