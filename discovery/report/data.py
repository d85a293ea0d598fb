"""What the scaling report shows, read from discovery runs (neuron banks).

Each run is one anchor matched against its partners. :func:`load_runs` turns banks into
:class:`RunSummary` records (size, counts, null, polarization, top neurons per domain with their
per-domain activations, partner neurons and r, and snippets); :func:`scaling_table` adds the
power-law fit over the runs' sizes. Rendering lives in :mod:`discovery.report.html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from discovery.errors import DiscoveryError
from discovery.report.scaling import PowerLawFit, fit_power_law
from rosetta_filter.scoring.bank import NeuronBank, auroc_column, domain_mean_column, load_bank


@dataclass(frozen=True)
class PartnerNeuron:
    model: str
    neuron: str
    r: float | None


@dataclass(frozen=True)
class TopNeuron:
    """One of a run's top Rosetta Neurons for a domain, with what the report shows of it."""

    neuron: str
    auroc: float
    mean_r: float
    domain_means: dict[str, float]
    partners: list[PartnerNeuron]
    snippets: list[dict]


@dataclass
class RunSummary:
    path: Path
    anchor: str
    family: str
    name: str
    parameters: int
    neurons: int
    rosetta: int
    rosetta_null: int | None
    consistent: int
    mean_r: float | None
    partners: list[str]
    tokens: dict[str, int]
    spans: int
    domains: list[str]
    polarization: dict
    top: dict[str, list[TopNeuron]] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.rosetta / self.neurons

    @property
    def label(self) -> str:
        return f"{self.anchor} ({self.parameters / 1e6:.0f}M)"


def _partner_r(bank: NeuronBank, anchor: str, neuron: str) -> dict[tuple[str, str], float]:
    pairs = bank.pairs
    if pairs.num_rows == 0:
        return {}
    out = {}
    for row in pairs.to_pylist():
        if row["model_a"] == anchor and row["neuron_a"] == neuron:
            out[(row["model_b"], row["neuron_b"])] = float(row["r"])
        elif row["model_b"] == anchor and row["neuron_b"] == neuron:
            out[(row["model_a"], row["neuron_a"])] = float(row["r"])
    return out


def _top_neurons(bank: NeuronBank, summary: dict) -> dict[str, list[TopNeuron]]:
    anchor = summary["anchor"]
    rows = {r["neuron"]: r for r in bank.rows(anchor)}
    top: dict[str, list[TopNeuron]] = {}
    for domain, best in summary.get("top_rosetta_per_domain", {}).items():
        top[domain] = []
        for entry in best:
            row = rows[entry["neuron"]]
            rs = _partner_r(bank, anchor, entry["neuron"])
            partners = []
            for name in entry["partners"]:
                model, neuron = name.split(":", 1)
                partners.append(PartnerNeuron(model, neuron, rs.get((model, neuron))))
            top[domain].append(
                TopNeuron(
                    neuron=entry["neuron"],
                    auroc=float(row[auroc_column(domain)]),
                    mean_r=float(entry["mean_r"]),
                    domain_means={d: float(row[domain_mean_column(d)]) for d in bank.domains},
                    partners=partners,
                    snippets=summary.get("snippets", {}).get(entry["neuron"], []),
                )
            )
    return top


def load_run(path: Path | str) -> RunSummary:
    bank = load_bank(path)
    summary = bank.meta.get("summary")
    if not summary or "polarization" not in summary:
        raise DiscoveryError(
            f"bank {bank.path} has no discovery summary with polarization statistics: "
            "re-run `rosetta-filter discover` with this version to report on it",
            field="runs",
            value=str(path),
        )
    anchor = summary["anchor"]
    model = bank.model_meta(anchor)
    if "parameters" not in model:
        raise DiscoveryError(
            f"bank {bank.path} does not record the anchor's parameter count: re-run discovery",
            field="runs",
            value=str(path),
        )
    return RunSummary(
        path=bank.path,
        anchor=anchor,
        family=model.get("family", "?"),
        name=model.get("name", anchor),
        parameters=int(model["parameters"]),
        neurons=int(summary["anchor_neurons"]),
        rosetta=int(summary["rosetta"]),
        rosetta_null=summary.get("rosetta_null"),
        consistent=int(summary.get("consistent", 0)),
        mean_r=summary.get("mean_r"),
        partners=list(bank.meta.get("partners") or summary.get("pairs", {}).keys()),
        tokens=summary.get("tokens", {}),
        spans=int(summary.get("spans", 0)),
        domains=bank.domains,
        polarization=summary["polarization"],
        top=_top_neurons(bank, summary),
    )


def load_runs(paths: Sequence[Path | str]) -> list[RunSummary]:
    """Runs sorted by anchor size (the x axis of every scaling plot)."""
    if not paths:
        raise DiscoveryError("give at least one discovery run (bank directory)", field="runs")
    return sorted((load_run(p) for p in paths), key=lambda r: (r.parameters, r.anchor))


def power_law(runs: Sequence[RunSummary]) -> PowerLawFit | None:
    """Rosetta count ~ parameters^b over the runs, or None when they do not span two sizes."""
    sizes = {r.parameters for r in runs}
    if len(sizes) < 2 or any(r.rosetta == 0 for r in runs):
        return None
    return fit_power_law(
        [r.parameters for r in runs], [r.rosetta for r in runs], [r.neurons for r in runs]
    )


def comparable_groups(runs: Sequence[RunSummary]) -> dict[str, list[RunSummary]]:
    """Runs of one anchor family against the same partners, keyed by a readable label: the
    comparison the paper's law is about (a pooled fit over mixed families is only a summary)."""
    groups: dict[str, list[RunSummary]] = {}
    for run in runs:
        label = f"{run.family} vs {', '.join(sorted(run.partners))}"
        groups.setdefault(label, []).append(run)
    return groups


def group_fits(runs: Sequence[RunSummary]) -> dict[str, PowerLawFit]:
    """A power-law fit for every comparable group that spans at least two sizes."""
    fits = {label: power_law(group) for label, group in comparable_groups(runs).items()}
    return {label: fit for label, fit in fits.items() if fit is not None}


def _fit_json(fit: PowerLawFit) -> dict:
    return {
        "exponent": fit.exponent,
        "prefactor": fit.prefactor,
        "ci": [fit.ci_low, fit.ci_high],
        "confidence": fit.confidence,
        "n_boot": fit.n_boot,
    }


def scaling_table(runs: Sequence[RunSummary]) -> dict:
    """The report's numbers as JSON-ready data (also written beside the HTML)."""
    fit = power_law(runs)
    return {
        "runs": [
            {
                "anchor": r.anchor,
                "family": r.family,
                "parameters": r.parameters,
                "neurons": r.neurons,
                "rosetta": r.rosetta,
                "fraction": round(r.fraction, 6),
                "rosetta_null": r.rosetta_null,
                "consistent": r.consistent,
                "mean_r": r.mean_r,
                "partners": r.partners,
                "spans": r.spans,
                "polarization": {
                    metric: entry["p_rosetta_greater"]
                    for metric, entry in r.polarization.get(r.anchor, {}).items()
                },
                "median_specialisation": {
                    group: r.polarization.get(r.anchor, {})
                    .get("specialisation", {})
                    .get(group, {})
                    .get("median")
                    for group in ("rosetta", "rest")
                },
                "bank": str(r.path),
            }
            for r in runs
        ],
        "power_law": None if fit is None else _fit_json(fit),
        "power_law_by_group": {label: _fit_json(f) for label, f in group_fits(runs).items()},
    }
