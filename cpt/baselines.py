"""The selection methods a user would otherwise pick, as :class:`DocumentScorer` s.

Each one goes through ``rosetta_filter.filtering.pipeline.run`` like the Rosetta filter, so every
arm of the study is a run directory made by the same selection (exact token budget, ties by input
position) and the same write pass. Token counts come from the trained model's tokenizer, so a
budget means the same tokens in every arm.

- ``tfidf``: TF-IDF (word 1-2 grams) + logistic regression on the probe documents, target vs
  rest (the evaluation baseline, ``rosetta_filter.evaluation.evaluate.fit_tfidf``);
- ``dsir``: DSIR's hashed n-gram importance weights toward the probe documents of the target
  (``data-selection``'s ``HashedNgramDSIR``, fitted on the pool), plus Gumbel noise: taking the top
  of that ranking is DSIR's resampling without replacement;
- ``random``: a seeded uniform number per document;
- ``oracle``: the pool's own domain labels (target first, random order within).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rosetta_filter.errors import ConfigError
from rosetta_filter.scoring.document import ScoredDoc

ScoreFn = Callable[[list[str]], np.ndarray]
_BATCH = 256


def text_key(text: str) -> str:
    """A document's identity for label and weight look-ups: the sha256 of its text."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def unit_uniform(seed: int, text: str) -> float:
    """A uniform number in (0, 1) from ``(seed, text)``: stable across runs and orders."""
    digest = hashlib.sha256(f"{seed}\0{text_key(text)}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2**64


class BaselineScorer:
    """Scores texts in batches with ``score_fn``; counts tokens with ``tokenizer``."""

    def __init__(
        self, name: str, score_fn: ScoreFn, tokenizer: Any, max_tokens: int, info: dict[str, Any]
    ) -> None:
        self.name = name
        self.score_fn = score_fn
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.info = info

    def describe(self) -> dict[str, Any]:
        return {"model": None, "neurons": None, "scorer": {"baseline": self.name, **self.info}}

    def score(self, records: Iterable) -> Iterator[ScoredDoc]:
        batch: list[str | None] = []
        start = 0
        for record in records:
            batch.append(record)
            if len(batch) == _BATCH:
                yield from self._score_batch(batch, start)
                start += len(batch)
                batch = []
        if batch:
            yield from self._score_batch(batch, start)

    def _score_batch(self, texts: Sequence[str | None], start: int) -> Iterator[ScoredDoc]:
        valid = [t for t in texts if t is not None]
        scores = iter(self.score_fn(valid) if valid else [])
        counts = iter(
            [len(ids) for ids in self.tokenizer(valid, add_special_tokens=False)["input_ids"]]
            if valid
            else []
        )
        for offset, text in enumerate(texts):
            if text is None:
                yield ScoredDoc(start + offset, None, skip_reason="empty")
                continue
            total = next(counts)
            yield ScoredDoc(
                start + offset,
                float(next(scores)),
                n_tokens=min(total, self.max_tokens),
                total_tokens=total,
                truncated=total > self.max_tokens,
            )


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file (the pool, the probe)."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def tfidf_scores(probe: list[dict[str, Any]], target: str) -> ScoreFn:
    """A TF-IDF + LR classifier of ``target`` vs rest, fitted on ``probe`` records."""
    from rosetta_filter.evaluation.evaluate import fit_tfidf

    texts = [r["text"] for r in probe]
    labels = np.asarray([r["domain"] == target for r in probe])
    return fit_tfidf(texts, labels)


def dsir_scores(
    probe: list[dict[str, Any]], pool_path: Path, target: str, seed: int, cache_dir: Path
) -> ScoreFn:
    """DSIR log importance weights (target = the probe documents of ``target``, raw = the pool)
    plus Gumbel noise from ``seed``."""
    try:
        from data_selection import HashedNgramDSIR
    except ImportError as exc:
        raise ConfigError(
            "the DSIR arm needs data-selection: pip install 'rosetta-filter[cpt]'", field="arms"
        ) from exc
    cache_dir.mkdir(parents=True, exist_ok=True)
    target_path = cache_dir / "target.jsonl"
    target_path.write_text(
        "".join(json.dumps({"text": r["text"]}) + "\n" for r in probe if r["domain"] == target),
        encoding="utf-8",
    )
    dsir = HashedNgramDSIR(
        [str(pool_path)], [str(target_path)], cache_dir=str(cache_dir / "dsir"), num_proc=1
    )
    dsir.fit_importance_estimator(num_tokens_to_fit="all")

    def score(texts: list[str]) -> np.ndarray:
        weights = np.asarray([dsir.importance_estimator(dsir.featurizer(t)) for t in texts])
        gumbel = np.asarray([-math.log(-math.log(unit_uniform(seed, t))) for t in texts])
        return weights + gumbel

    return score


def random_scores(seed: int) -> ScoreFn:
    return lambda texts: np.asarray([unit_uniform(seed, t) for t in texts])


def oracle_scores(pool: list[dict[str, Any]], target: str, seed: int) -> ScoreFn:
    """1 + uniform for a target document, uniform otherwise: all target documents first."""
    is_target = {text_key(r["text"]): r["domain"] == target for r in pool}

    def score(texts: list[str]) -> np.ndarray:
        return np.asarray([is_target[text_key(t)] + unit_uniform(seed, t) for t in texts])

    return score
