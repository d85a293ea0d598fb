"""The neuron sets a request can name, each a :class:`Scorer` sharing the one loaded model.

Sets come from the config (``neurons`` is ``default``, ``neuron_sets`` add named ones) and from
the default bank's domains (selected with the ``neurons`` section's top_k / rosetta_only /
max_layer). All are built at start-up: a Scorer is cheap (no weights of its own), and building
them later would touch the shared tokenizer while the inference worker uses it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from rosetta_filter.config import NeuronsConfig
from rosetta_filter.errors import BankError
from rosetta_filter.scoring.bank import load_bank, neuron_of
from rosetta_filter.scoring.scorer import Scorer
from service.config import DEFAULT_SET, ServeConfig
from service.errors import InvalidRequest
from service.schemas import (
    BankInfo,
    BankNeuron,
    NeuronSetInfo,
    NeuronSetsResponse,
    WeightedNeuronInfo,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NeuronSet:
    name: str
    origin: str  # "config" | "bank_domain"
    scorer: Scorer
    threshold: float

    @property
    def neuron_names(self) -> list[str]:
        return [str(n) for n in self.scorer.selection.neurons]

    def info(self) -> NeuronSetInfo:
        sel = self.scorer.selection
        mean, std = sel.norm_mean, sel.norm_std
        return NeuronSetInfo(
            name=self.name,
            origin=self.origin,
            domain=sel.domain,
            threshold=self.threshold,
            deepest_layer=max(n.layer for n in sel.neurons),
            neurons=[
                WeightedNeuronInfo(
                    neuron=str(n),
                    weight=w,
                    norm_mean=mean[i] if mean else None,
                    norm_std=std[i] if std else None,
                )
                for i, (n, w) in enumerate(zip(sel.neurons, sel.weights, strict=True))
            ],
        )


class NeuronSets:
    """``default`` is the configured default set's scorer; every other set shares its model."""

    def __init__(self, cfg: ServeConfig, default: Scorer) -> None:
        self.bank = load_bank(cfg.neurons.bank) if cfg.neurons.bank else None
        self.bank_model = cfg.neurons.bank_model or cfg.model.name
        threshold = cfg.server.threshold
        self.sets = {DEFAULT_SET: NeuronSet(DEFAULT_SET, "config", default, threshold)}
        for name, set_cfg in cfg.neuron_sets.items():
            scorer = _shared(cfg, default, set_cfg)
            set_threshold = threshold if set_cfg.threshold is None else set_cfg.threshold
            self.sets[name] = NeuronSet(name, "config", scorer, set_threshold)
        for domain in self.bank.domains if self.bank else []:
            if domain in self.sets:
                continue
            # explicit=None: select by domain even when the default set lists neurons.
            by_domain = cfg.neurons.model_copy(update={"domain": domain, "explicit": None})
            try:
                scorer = _shared(cfg, default, by_domain)
            except BankError as exc:
                log.warning("bank domain %r is not offered: %s", domain, exc.message)
                continue
            self.sets[domain] = NeuronSet(domain, "bank_domain", scorer, threshold)
        # Every set in one scorer: a request naming several sets is one forward pass (up to
        # the deepest layer among them), and such requests batch together whatever they name.
        # That pass scores each set at its full depth: a cascade (neurons.cascade) decides per
        # document how deep one set's pass runs, which one shared pass cannot.
        self.union = (
            Scorer(
                default.model,
                replace(default.selection, cascade=None),
                cfg.scoring,
                cfg.batching,
                cfg.model.backend,
                sets={
                    name: replace(s.scorer.selection, cascade=None) for name, s in self.sets.items()
                },
            )
            if cfg.model.backend == "hf"
            else None
        )

    def resolve(self, name: str | None) -> NeuronSet:
        """The set a request names (None: the default); 422 naming the choices otherwise."""
        found = self.sets.get(DEFAULT_SET if name is None else name)
        if found is None:
            raise InvalidRequest(
                f"no neuron set {_shown(name)}; this server offers {sorted(self.sets)} "
                "(GET /v1/neuron-sets lists them)",
                field="neuron_set",
                value=_shown(name),
            )
        return found

    def resolve_many(self, names: list[str]) -> list[NeuronSet]:
        """The sets of a several-set request, each checked as :meth:`resolve` does."""
        if self.union is None:
            raise InvalidRequest(
                "neuron_sets needs the hf backend (each vLLM engine serves one set): ask one "
                "neuron_set per request",
                field="neuron_sets",
            )
        if len(set(names)) != len(names):
            raise InvalidRequest("neuron_sets lists a set twice", field="neuron_sets")
        return [self.resolve(name) for name in names]

    def describe(self) -> NeuronSetsResponse:
        bank = None
        if self.bank is not None:
            bank = BankInfo(
                path=str(self.bank.path),
                model=self.bank_model,
                domains=self.bank.domains,
                neurons=[
                    BankNeuron(
                        neuron=str(neuron_of(r)),
                        is_rosetta=bool(r["is_rosetta"]),
                        preferred_domain=r.get("preferred_domain"),
                    )
                    for r in self.bank.rows(self.bank_model)
                ],
            )
        return NeuronSetsResponse(
            default=DEFAULT_SET, sets=[s.info() for s in self.sets.values()], bank=bank
        )


def _shared(cfg: ServeConfig, default: Scorer, neurons: NeuronsConfig) -> Scorer:
    """A scorer for ``neurons`` on the default scorer's already loaded model."""
    return Scorer.from_config(cfg.model, neurons, cfg.scoring, cfg.batching, loaded=default.model)


def _shown(name: str | None, limit: int = 64) -> str:
    """A client's set name as quoted in an error: cut, so a huge name is not echoed back."""
    text = repr(name)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
