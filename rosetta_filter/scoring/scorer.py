"""Document scores: pool each selected neuron over the document, z-normalise with the bank's
statistics, combine with weights. One :class:`Scorer` serves ``rosetta-filter run``,
``rosetta-filter score`` and the HTTP service, so all three give identical scores.

The filtering pipeline needs only :class:`DocumentScorer` (scores in order, and a description for
the manifest), so a baseline (a text classifier, importance resampling, the labels) goes through
the very same selection and write pass: its run directory is comparable shard for shard.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import islice
from typing import Any

import numpy as np
import torch

from rosetta_filter.activations.backends import Backend, build_engine, load_backend_model
from rosetta_filter.activations.forward import PoolingParams
from rosetta_filter.activations.models import LoadedModel
from rosetta_filter.config import BatchingConfig, ModelConfig, NeuronsConfig, ScoringConfig
from rosetta_filter.errors import BankError, ModelError
from rosetta_filter.neuron import Neuron
from rosetta_filter.scoring.bank import (
    NeuronBank,
    Pool,
    auroc_column,
    load_bank,
    lofo_worst_column,
    neuron_of,
    norm_columns,
    select_neurons,
)
from rosetta_filter.scoring.cascade import (
    Band,
    CascadeExits,
    choose_cascade,
    error_key,
    joint_defer_rate,
)
from rosetta_filter.scoring.document import DocumentScorer, ScoredDoc
from rosetta_filter.scoring.heads import (
    auto_layer,
    choose_depth,
    deepest_read,
    depth_rows,
    depth_rule_settings,
    quality_key,
)
from rosetta_filter.scoring.relative import bordered_score, relative_score

log = logging.getLogger(__name__)
__all__ = ["DocumentScorer", "NeuronSelection", "ScoredDoc", "Scorer"]


@dataclass(frozen=True)
class Border:
    """``neurons.borders``: the border head between a selection's domain and ``partner``
    (:mod:`discovery.domain.borders`), its logit signed toward the selection's domain."""

    head: NeuronSelection
    partner: str
    sign: float  # +1 where the selection's domain is the border's positive side, else -1

    @classmethod
    def of(cls, bank: NeuronBank, bank_model: str, domain: str | None) -> Border | None:
        """The bank's border head that has ``domain`` on one side (None where it has none: the
        domain keeps the relative score). A bank without border heads is an error: the
        config asked for what the bank cannot give."""
        borders = (bank.heads or {}).get("borders")
        if not borders:
            raise BankError(
                f"neurons.borders: bank {bank.path} has no border heads: fit them with "
                "heads.borders in the domains config (`rosetta-filter domains CONFIG "
                "--borders-only` adds them to a bank), or set neurons.borders=false",
                field="neurons.borders",
                value=True,
            )
        for row in borders:
            if domain in (row["positive"], row["negative"]):
                positive = domain == row["positive"]
                head = NeuronSelection.of_head(
                    row, f"{row['positive']}|{row['negative']}", bank_model
                )
                partner = row["negative"] if positive else row["positive"]
                return cls(head, partner, 1.0 if positive else -1.0)
        return None


@dataclass(frozen=True)
class NeuronSelection:
    """The neurons a scorer reads, with weights and normalisation (mean, std) per neuron.

    Without an intercept the score is the weighted mean of the (normalised) values; a domain
    head has one, and its score is the head's logit ``intercept + sum(weight * value)``.
    """

    neurons: tuple[Neuron, ...]
    weights: tuple[float, ...]
    norm_mean: tuple[float, ...] | None
    norm_std: tuple[float, ...] | None
    domain: str | None = None
    bank_model: str | None = None
    intercept: float | None = None
    max_layer: int | None = None  # the depth the selection was chosen for (head or auto)
    cascade: CascadeStage | None = None  # neurons.cascade: the shallow head that scores first
    rivals: tuple[NeuronSelection, ...] = ()  # neurons.relative: the other domains' heads
    border: Border | None = None  # neurons.borders: the head between this domain and another

    @property
    def read(self) -> tuple[Neuron, ...]:
        """Every neuron this selection's scores need: a cascade's shallow stage's, then its own
        score's (each once, in that order)."""
        first = self.cascade.shallow.read if self.cascade is not None else ()
        return tuple(dict.fromkeys([*first, *self.own_read]))

    @property
    def own_read(self) -> tuple[Neuron, ...]:
        """The neurons of this selection's own score (a cascade's full stage): its head's, then
        its rivals' and its border head's (each once)."""
        ordered = [*self.neurons, *(n for h in self.heads[1:] for n in h.neurons)]
        return tuple(dict.fromkeys(ordered))

    @property
    def heads(self) -> tuple[NeuronSelection, ...]:
        """This head, its rivals (``neurons.relative``) and its border head
        (``neurons.borders``), in the order scores stack them."""
        border = (self.border.head,) if self.border is not None else ()
        return (self, *self.rivals, *border)

    @classmethod
    def from_config(
        cls,
        cfg: NeuronsConfig,
        scoring: ScoringConfig,
        model_name: str,
        bank: NeuronBank | None = None,
        deciders: Sequence[str] = (),
    ) -> NeuronSelection:
        """The config's selection; ``deciders``: the domains tagged in the same pass, whose
        shallow heads also defer a document in a cascade (:meth:`CascadeStage.choose`)."""
        bank = bank or (load_bank(cfg.bank) if cfg.bank else None)
        bank_model = cfg.bank_model or model_name
        if cfg.explicit is not None:
            neurons = tuple(Neuron.parse(w.neuron) for w in cfg.explicit)
            weights = tuple(w.weight for w in cfg.explicit)
            rows = _bank_rows(bank, bank_model, neurons) if bank else None
        elif cfg.mode == "head" or (cfg.mode == "auto" and bank is not None and bank.heads):
            assert bank is not None and cfg.domain is not None  # guaranteed by NeuronsConfig
            return cls.from_head(bank, bank_model, cfg, scoring, deciders)
        else:
            assert bank is not None and cfg.domain is not None
            if cfg.cascade or cfg.relative:
                option = "cascade" if cfg.cascade else "relative"
                raise BankError(
                    f"neurons.{option} needs domain heads and bank {bank.path} has none: use a "
                    f"bank written by `rosetta-filter domains`, or set neurons.{option}=false",
                    field=f"neurons.{option}",
                    value=True,
                )
            max_layer = cfg.max_layer
            rosetta_only = True if cfg.rosetta_only == "auto" else cfg.rosetta_only  # top_k
            if max_layer == "auto":
                loss, guard = depth_rule_settings(bank, cfg.max_quality_loss, cfg.depth_guard)
                max_layer = auto_layer(bank, bank_model, cfg.domain, rosetta_only, loss, guard)
            rows = select_neurons(
                bank,
                bank_model,
                cfg.domain,
                top_k=cfg.top_k,
                rosetta_only=rosetta_only,
                max_layer=max_layer,
                rank_by={
                    "auto": None,
                    "held_out_families": lofo_worst_column(cfg.domain),
                    "probe_auroc": auroc_column(cfg.domain),
                }[cfg.rank_by],
            )
            neurons = tuple(neuron_of(r) for r in rows)
            weights = (1.0,) * len(neurons)
        mean, std = _normalisation(rows, scoring)
        return cls(neurons, weights, mean, std, cfg.domain, bank_model if bank else None)

    @classmethod
    def from_head(
        cls,
        bank: NeuronBank,
        bank_model: str,
        cfg: NeuronsConfig,
        scoring: ScoringConfig,
        deciders: Sequence[str] = (),
    ) -> NeuronSelection:
        """The bank's head for ``cfg.domain`` at the depth ``cfg.max_layer`` asks for."""
        assert cfg.domain is not None
        pooling = bank.heads.get("pooling") if bank.heads else None
        if pooling is not None and pooling != scoring.pooling:
            raise BankError(
                f"the heads of bank {bank.path} were fit on {pooling} pooling: set "
                f"scoring.pooling={pooling}, or neurons.mode=top_k",
                field="scoring.pooling",
                value=scoring.pooling,
            )
        rosetta_only = False if cfg.rosetta_only == "auto" else cfg.rosetta_only
        rows = depth_rows(bank, bank_model, cfg.domain, rosetta_only)
        loss, guard = depth_rule_settings(bank, cfg.max_quality_loss, cfg.depth_guard)
        head = choose_depth(rows, cfg.max_layer, loss, quality_key(bank), guard)
        selection = cls.of_head(head, cfg.domain, bank_model)
        if cfg.relative:
            alone = {"relative": False, "cascade": False}
            rivals = tuple(
                cls.from_head(bank, bank_model, rival, scoring)
                for d in sorted(bank.heads["domains"])
                if d != cfg.domain
                for rival in [cfg.model_copy(update={"domain": d, **alone})]
            )
            selection = replace(selection, rivals=rivals)
            if cfg.borders:
                selection = replace(selection, border=Border.of(bank, bank_model, cfg.domain))
        if not cfg.cascade:
            return selection
        stage = CascadeStage.choose(
            bank, bank_model, rosetta_only, selection, cfg.cascade_error, deciders,
            cfg.cascade_exits,
        )  # fmt: skip
        return replace(selection, cascade=stage)

    @classmethod
    def of_head(cls, head: dict, domain: str, bank_model: str) -> NeuronSelection:
        """The selection of one depth-table row."""
        return cls(
            tuple(Neuron.parse(n) for n in head["neurons"]),
            tuple(head["weights"]),
            tuple(head["norm_mean"]),
            tuple(head["norm_std"]),
            domain,
            bank_model,
            intercept=float(head["intercept"]),
            max_layer=int(head["max_layer"]),
        )

    def score_from(self, values_of: Callable[[NeuronSelection], torch.Tensor]) -> torch.Tensor:
        """The score from each head's pooled values (``values_of(head)``, aligned with its
        neurons): this head's combination, or with rivals (``neurons.relative``) its log-softmax
        over every domain's (:mod:`rosetta_filter.scoring.relative`)."""
        own = self.combine(values_of(self))
        if not self.rivals:
            return own
        rivals = {r.domain: r.combine(values_of(r)) for r in self.rivals}
        if self.border is None:
            return relative_score(own, list(rivals.values()))
        border = self.border.sign * self.border.head.combine(values_of(self.border.head))
        return bordered_score(own, rivals[self.border.partner], list(rivals.values()), border)

    def normalise(self, values: torch.Tensor) -> torch.Tensor:
        """Pooled values ``(..., n_neurons)`` z-normalised with the selection's statistics."""
        if self.norm_mean is None:
            return values
        return (values - _tensor(self.norm_mean)) / _tensor(self.norm_std)

    def combine(self, values: torch.Tensor) -> torch.Tensor:
        """Scores from pooled values ``(..., n_neurons)``: normalise, then weigh (see above)."""
        values = self.normalise(values)
        weights = _tensor(self.weights)
        if self.intercept is not None:
            return self.intercept + (values * weights).sum(-1)
        return (values * weights).sum(-1) / weights.abs().sum()


@dataclass(frozen=True)
class CascadeStage:
    """The first stage of a cascade (:mod:`rosetta_filter.scoring.cascade`): the shallow head
    (with the relative score, with every domain's shallow head as its rivals) that scores every
    document, and the band of its own logit that goes on to the full stage (the selection
    holding this stage)."""

    shallow: NeuronSelection
    band: Band
    layer_share: float  # expected share of the model's layers run per document

    @classmethod
    def choose(
        cls,
        bank: NeuronBank,
        bank_model: str,
        rosetta_only: Pool,
        full: NeuronSelection,
        error: float,
        deciders: Sequence[str] = (),
        exits: CascadeExits = "both",
    ) -> CascadeStage | None:
        """The depth limit, of those every head of ``full`` (its domain's, and its rivals')
        has a depth-table row at, whose heads run the fewest layers per document in front of
        ``full`` (:func:`choose_cascade`), with the domain's band at ``error``; None where no
        shallower stage saves layers (the full stage then scores every document).

        ``deciders``: the domains tagged in the same pass (``neurons.domains``). A document
        any of their shallow heads is unsure of goes deep for all of them, so the expected
        share deferred at a depth is the sum of their bands' (at most 1), and every one of
        them, choosing from the same sum, picks the same depth.

        ``exits``: ``negatives`` defers everything at or above the band's low edge
        (:meth:`Band.rejecting`), at the depth the two-sided band chooses."""
        domains = [h.domain for h in full.heads]
        domains += sorted(set(deciders) - set(domains))
        tables = {}
        for domain in domains:
            rows = depth_rows(bank, bank_model, domain, rosetta_only)
            if any("bands" not in r for r in rows):
                raise BankError(
                    f"the heads of bank {bank.path} record no cascade bands (fitted before "
                    "session 22): refit them with `rosetta-filter domains`, or set "
                    "neurons.cascade=false",
                    field="neurons.cascade",
                    value=True,
                )
            tables[domain] = {r["max_layer"]: r for r in rows}
        n_layers = int(bank.model_meta(bank_model)["layers"])
        key = error_key(error)
        depths = sorted(set.intersection(*(set(t) for t in tables.values())))
        stages = [[t[depth] for t in tables.values()] for depth in depths]
        bands = [Band(**rows[0]["bands"][key]) for rows in stages]  # the domain's own head
        deciding = [d in {full.domain, *deciders} for d in tables]
        rates = [
            joint_defer_rate(
                r["bands"][key]["defer_rate"] for r, on in zip(rows, deciding, strict=True) if on
            )
            for rows in stages
        ]
        candidates = [
            (max(deepest_read(r) for r in rows), rate)
            for rows, rate in zip(stages, rates, strict=True)
        ]
        full_layer = max(n.layer for n in full.own_read)
        choice = choose_cascade(candidates, full_layer, n_layers)
        if choice is None:
            log.info("cascade: no shallower stage of %s saves layers; full depth", full.domain)
            return None
        scored = list(zip(tables, stages[choice.index], strict=True))[: len(full.heads)]
        own, *rivals = (  # other deciders' shallow heads are read by their own selections
            NeuronSelection.of_head(row, domain, bank_model) for domain, row in scored
        )
        shallow = replace(own, rivals=tuple(rivals))
        chosen = bands[choice.index]
        return cls(
            shallow, chosen.rejecting() if exits == "negatives" else chosen, choice.layer_share
        )

    def deferred(self, values_of: Callable[[NeuronSelection], torch.Tensor]) -> np.ndarray:
        """Whether each document (or the one document) goes on to the full stage: the shallow
        head's own logit (not its relative score) inside the band."""
        logits = self.shallow.combine(values_of(self.shallow)).to(torch.float64).numpy()
        return self.band.deferred(np.atleast_1d(logits))


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
    """An activation engine plus the combination of neuron values into one score, and into
    one score per named set (``sets``) from the same forward pass: the engine reads the union
    of all neurons once and stops at the deepest layer any set needs."""

    def __init__(
        self,
        model: LoadedModel,
        selection: NeuronSelection,
        scoring: ScoringConfig,
        batching: BatchingConfig | None = None,
        backend: Backend = "hf",
        sets: Mapping[str, NeuronSelection] | None = None,
    ) -> None:
        self.model = model
        self.selection = selection
        self.scoring = scoring
        self.sets = dict(sets or {})
        scored = [selection, *self.sets.values()]
        self._cascaded = [s.cascade for s in scored if s.cascade is not None]
        if self._cascaded and backend != "hf":
            raise ModelError(
                f"neurons.cascade runs two passes of one model, on model.backend=hf only "
                f"(not {backend}): set model.backend=hf or neurons.cascade=false",
                field="neurons.cascade",
                value=True,
            )
        # the first pass: each scored selection's shallow stage where it has a cascade
        self._first = _first_stage_of(selection)
        self._first_sets = {name: _first_stage_of(s) for name, s in self.sets.items()}
        firsts = [self._first, *self._first_sets.values()]
        self.read = _union(firsts)
        self._columns = _columns_of(self.read, [h for s in firsts for h in s.heads])
        engine = partial(
            build_engine,
            backend,
            model,
            tokens=scoring.tokens,
            batching=batching,
            # the one method every score reads: pooling the others would be wasted passes
            pooling=PoolingParams(
                scoring.pool_top_k, scoring.active_threshold, methods=(scoring.pooling,)
            ),
        )
        self.engine = engine(self.read)
        self.deep_engine = None  # a cascade's second stage: every full score's neurons
        if self._cascaded:
            deep_read = list(dict.fromkeys(n for s in scored for n in s.own_read))
            self.deep_engine = engine(deep_read)
            self._deep_columns = _columns_of(deep_read, [h for s in scored for h in s.heads])

    @classmethod
    def from_config(
        cls,
        model_cfg: ModelConfig,
        neurons_cfg: NeuronsConfig,
        scoring: ScoringConfig,
        batching: BatchingConfig | None = None,
        loaded: LoadedModel | None = None,
        selection: NeuronSelection | None = None,
    ) -> Scorer:
        """A scorer for the config's neurons (or ``selection``, which then replaces them)."""
        bank = load_bank(neurons_cfg.bank) if neurons_cfg.bank else None
        tagged = neurons_cfg.tagged()
        deciders = sorted({t.domain for t in tagged.values() if t.cascade and t.domain})
        sets = {
            name: NeuronSelection.from_config(chosen, scoring, model_cfg.name, bank, deciders)
            for name, chosen in tagged.items()
        }
        if selection is None:
            selection = sets.get(neurons_cfg.domain) or NeuronSelection.from_config(
                neurons_cfg, scoring, model_cfg.name, bank
            )
        log.info("scoring with %s", ", ".join(map(str, selection.neurons)))
        for domain, chosen in sets.items():
            log.info("tagging %s with %s", domain, ", ".join(map(str, chosen.neurons)))
        model = loaded or load_backend_model(model_cfg)
        return cls(model, selection, scoring, batching, model_cfg.backend, sets)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    def describe(self) -> dict[str, Any]:
        selection, model = self.selection, self.model
        return {
            "model": {
                "name": model.name,
                "family": model.family,
                "source": model.source,
                "revision": model.revision,
                "sha256": model.sha256,
                "layers": model.arch.n_layers,
                "d_mlp": model.arch.d_mlp,
            },
            "neurons": {
                "neurons": [str(n) for n in selection.neurons],
                "weights": list(selection.weights),
                "normalized": selection.norm_mean is not None,
                "domain": selection.domain,
                # a cascade's second pass runs to the selection's own deepest layer
                "deepest_layer": max(n.layer for n in (*self.read, *selection.neurons)),
                "cascade": _cascade_description(selection.cascade),
                "relative_to": [r.domain for r in selection.rivals] or None,
                "border": {
                    "with": selection.border.partner,
                    "neurons": [str(n) for n in selection.border.head.neurons],
                }
                if selection.border is not None
                else None,
                "sets": {
                    name: {
                        "neurons": [str(n) for n in chosen.neurons],
                        "weights": list(chosen.weights),
                        "deepest_layer": max(n.layer for n in chosen.neurons),
                        "cascade": _cascade_description(chosen.cascade),
                    }
                    for name, chosen in self.sets.items()
                }
                or None,
            },
        }

    def score(self, records: Iterable, *, with_neurons: bool = False) -> Iterator[ScoredDoc]:
        """One :class:`ScoredDoc` per record, in order."""
        if self.deep_engine is None:
            yield from self._first_stage(records, with_neurons)
            return
        # blocks of the engine's read-ahead chunk: a run resumed at a checkpoint (a whole
        # number of chunks) forms the same blocks, so the same documents go deep together
        block_docs = self.engine.batching.lookahead_docs
        records = iter(records)
        offset = 0
        while block := list(islice(records, block_docs)):
            yield from self._cascade(block, offset, with_neurons)
            offset += len(block)

    def _first_stage(self, records: Iterable, with_neurons: bool) -> Iterator[ScoredDoc]:
        """Every record scored by the selection and the sets (a cascade's shallow stage)."""
        first = self._first
        cascades = self._cascaded if self.deep_engine is not None else []
        for doc in self.engine.run(records):
            if doc.skip_reason is not None:
                yield ScoredDoc(doc.index, None, skip_reason=doc.skip_reason)
                continue
            raw = doc.pooled[self.scoring.pooling]  # (len(self.read),)
            values_of = partial(_values, self._columns, raw)
            yield ScoredDoc(
                doc.index,
                float(first.score_from(values_of)),
                n_tokens=doc.n_tokens,
                total_tokens=doc.total_tokens,
                truncated=doc.truncated,
                neuron_values=first.normalise(values_of(first)).tolist() if with_neurons else None,
                # a cascade's documents are explained by different heads: name them
                neurons=[str(n) for n in first.neurons]
                if with_neurons and self.deep_engine
                else None,
                scores={
                    name: float(chosen.score_from(values_of))
                    for name, chosen in self._first_sets.items()
                }
                or None,
                # set here, where every shallow head's values are at hand: a document any
                # cascade is unsure of goes deep for all of them, whose full stages replace
                # its scores
                deferred=any(bool(c.deferred(values_of)[0]) for c in cascades),
            )

    def _cascade(self, block: list, offset: int, with_neurons: bool) -> Iterator[ScoredDoc]:
        """A block of records through the cascade: the shallow stage scores all of them, the
        full stage those it defers (their score, and neuron values, are replaced)."""
        assert self.deep_engine is not None
        docs = list(self._first_stage(block, with_neurons))
        deferred = [d.index for d in docs if d.deferred]
        full = self.selection
        deep = self.deep_engine.run([block[i] for i in deferred])
        for place, doc in zip(deferred, deep, strict=True):
            scored = docs[place]
            values_of = partial(_values, self._deep_columns, doc.pooled[self.scoring.pooling])
            scored.score = float(full.score_from(values_of))
            if scored.scores is not None:
                scored.scores = {
                    name: float(chosen.score_from(values_of)) for name, chosen in self.sets.items()
                }
            if with_neurons:
                scored.neuron_values = full.normalise(values_of(full)).tolist()
                scored.neurons = [str(n) for n in full.neurons]
        for scored in docs:
            scored.index += offset
            yield scored


def _cascade_description(stage: CascadeStage | None) -> dict[str, Any] | None:
    """A cascade's first stage as the manifest records it."""
    if stage is None:
        return None
    return {
        "shallow_neurons": [str(n) for n in stage.shallow.neurons],
        "shallow_weights": list(stage.shallow.weights),
        "shallow_relative_to": [r.domain for r in stage.shallow.rivals] or None,
        "band": [stage.band.low, None if math.isinf(stage.band.high) else stage.band.high],
        "exits": "negatives" if math.isinf(stage.band.high) else "both",
        # a cascade that only rejects also runs the full pass for the documents above the band
        "expected_layer_share": stage.layer_share,
    }


def _first_stage_of(selection: NeuronSelection) -> NeuronSelection:
    """What scores ``selection`` in the first pass: its cascade's shallow stage, else itself."""
    return selection.cascade.shallow if selection.cascade is not None else selection


def _union(selections: list[NeuronSelection]) -> list[Neuron]:
    """Every neuron ``selections`` read once: the first selection's in its order, then the
    others' new ones by (layer, index)."""
    first = list(selections[0].read)
    seen = set(first)
    rest = {n for s in selections[1:] for n in s.read if n not in seen}
    return first + sorted(rest, key=lambda n: (n.layer, n.index))


def _columns_of(
    read: Sequence[Neuron], heads: Iterable[NeuronSelection]
) -> dict[int, torch.Tensor]:
    """Each head's columns of the ``read`` list (keyed by the head's id), built once."""
    column = {n: i for i, n in enumerate(read)}
    return {id(h): torch.tensor([column[n] for n in h.neurons], dtype=torch.long) for h in heads}


def _values(columns: dict[int, torch.Tensor], raw: torch.Tensor, head: NeuronSelection):
    """``head``'s pooled values out of a read list's ``raw`` (``columns``: :func:`_columns_of`)."""
    return raw[columns[id(head)]]


def _tensor(values: tuple[float, ...] | None) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)
