"""Document scores: pool each selected neuron over the document, z-normalise with the bank's
statistics, combine with weights. One :class:`Scorer` serves ``rosetta-filter run``,
``rosetta-filter score`` and the HTTP service, so all three give identical scores.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from rosetta_filter.backends import Backend, build_engine, load_backend_model
from rosetta_filter.bank import NeuronBank, load_bank, neuron_of, norm_columns, select_neurons
from rosetta_filter.config import BatchingConfig, ModelConfig, NeuronsConfig, ScoringConfig
from rosetta_filter.engine import PoolingParams
from rosetta_filter.errors import BankError
from rosetta_filter.models import LoadedModel
from rosetta_filter.neuron import Neuron

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ScoredDoc:
    index: int
    score: float | None  # None when skipped
    n_tokens: int = 0  # tokens scored
    total_tokens: int = 0  # tokens of the whole document
    truncated: bool = False
    skip_reason: str | None = None
    neuron_values: list[float] | None = None  # pooled, normalised, per selected neuron


@dataclass(frozen=True)
class NeuronSelection:
    """The neurons a scorer reads, with weights and normalisation (mean, std) per neuron."""

    neurons: tuple[Neuron, ...]
    weights: tuple[float, ...]
    norm_mean: tuple[float, ...] | None
    norm_std: tuple[float, ...] | None
    domain: str | None = None
    bank_model: str | None = None

    @classmethod
    def from_config(
        cls,
        cfg: NeuronsConfig,
        scoring: ScoringConfig,
        model_name: str,
        bank: NeuronBank | None = None,
    ) -> NeuronSelection:
        bank = bank or (load_bank(cfg.bank) if cfg.bank else None)
        bank_model = cfg.bank_model or model_name
        if cfg.explicit is not None:
            neurons = tuple(Neuron.parse(w.neuron) for w in cfg.explicit)
            weights = tuple(w.weight for w in cfg.explicit)
            rows = _bank_rows(bank, bank_model, neurons) if bank else None
        else:
            assert bank is not None and cfg.domain is not None  # guaranteed by NeuronsConfig
            rows = select_neurons(
                bank,
                bank_model,
                cfg.domain,
                top_k=cfg.top_k,
                rosetta_only=cfg.rosetta_only,
                max_layer=cfg.max_layer,
            )
            neurons = tuple(neuron_of(r) for r in rows)
            weights = (1.0,) * len(neurons)
        mean, std = _normalisation(rows, scoring)
        return cls(neurons, weights, mean, std, cfg.domain, bank_model if bank else None)


def _bank_rows(bank: NeuronBank, model_id: str, neurons: tuple[Neuron, ...]) -> list | None:
    by_neuron = {neuron_of(r): r for r in bank.rows(model_id)}
    rows = [by_neuron.get(n) for n in neurons]
    return None if any(r is None for r in rows) else rows


def _normalisation(rows: list | None, scoring: ScoringConfig) -> tuple:
    mean_col, std_col = norm_columns(scoring.pooling)
    has_stats = rows is not None and all(
        r.get(mean_col) is not None and r.get(std_col) is not None for r in rows
    )
    if scoring.normalize == "zscore" and not has_stats:
        raise BankError(
            f"scoring.normalize=zscore needs {mean_col}/{std_col} in the bank for every "
            "selected neuron: use normalize=none or a bank written by `rosetta-filter discover`",
            field="scoring.normalize",
            value="zscore",
        )
    if scoring.normalize == "none" or not has_stats:
        return None, None
    return (
        tuple(float(r[mean_col]) for r in rows),
        tuple(max(float(r[std_col]), 1e-6) for r in rows),
    )


class Scorer:
    """An activation engine plus the combination of neuron values into one score."""

    def __init__(
        self,
        model: LoadedModel,
        selection: NeuronSelection,
        scoring: ScoringConfig,
        batching: BatchingConfig | None = None,
        backend: Backend = "hf",
    ) -> None:
        self.model = model
        self.selection = selection
        self.scoring = scoring
        self.engine = build_engine(
            backend,
            model,
            list(selection.neurons),
            tokens=scoring,
            batching=batching,
            pooling=PoolingParams(scoring.pool_top_k, scoring.active_threshold),
        )
        self._weights = torch.tensor(selection.weights, dtype=torch.float32)
        self._mean = _tensor_or_none(selection.norm_mean)
        self._std = _tensor_or_none(selection.norm_std)

    @classmethod
    def from_config(
        cls,
        model_cfg: ModelConfig,
        neurons_cfg: NeuronsConfig,
        scoring: ScoringConfig,
        batching: BatchingConfig | None = None,
        loaded: LoadedModel | None = None,
    ) -> Scorer:
        selection = NeuronSelection.from_config(neurons_cfg, scoring, model_cfg.name)
        log.info("scoring with %s", ", ".join(map(str, selection.neurons)))
        model = loaded or load_backend_model(model_cfg)
        return cls(model, selection, scoring, batching, model_cfg.backend)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def score(self, records: Iterable, *, with_neurons: bool = False) -> Iterator[ScoredDoc]:
        """One :class:`ScoredDoc` per record, in order."""
        for doc in self.engine.run(records):
            if doc.skip_reason is not None:
                yield ScoredDoc(doc.index, None, skip_reason=doc.skip_reason)
                continue
            values = doc.pooled[self.scoring.pooling]  # (n_neurons,)
            if self._mean is not None:
                values = (values - self._mean) / self._std
            score = float((values * self._weights).sum() / self._weights.abs().sum())
            yield ScoredDoc(
                doc.index,
                score,
                n_tokens=doc.n_tokens,
                total_tokens=doc.total_tokens,
                truncated=doc.truncated,
                neuron_values=values.tolist() if with_neurons else None,
            )


def _tensor_or_none(values: tuple[float, ...] | None) -> torch.Tensor | None:
    return None if values is None else torch.tensor(values, dtype=torch.float32)
