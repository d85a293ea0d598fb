"""The scaling report's figures, drawn with matplotlib (Agg) and returned as PNG bytes.

Every figure is a function of :class:`~discovery.report.data.RunSummary` records only, so the
report renders from banks alone (no model, no corpus). Distributions come from the quantiles a
bank stores (5/25/50/75/95th percentiles drawn as box plots), not from every neuron's row.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from discovery.neuron_stats.polarization import POLARIZATION_METRICS, QUANTILES
from discovery.report.data import RunSummary, TopNeuron, power_law

_ROSETTA, _REST, _NULL = "#c0392b", "#7f8c8d", "#2c3e50"
_METRIC_LABELS = {
    "kurtosis": "excess kurtosis over spans (heavier tail = more selective)",
    "sparsity": "share of spans active (lower = more selective)",
    "specialisation": "specialisation, 2 AUROC - 1 of the preferred domain",
}


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _legend(ax: plt.Axes) -> None:
    """A legend when something was drawn (a run may lack a population, e.g. no non-Rosetta
    neurons in a planted twin test)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _quantile(summary: dict, q: float) -> float:
    return summary["quantiles"][int(np.argmin(np.abs(QUANTILES - q)))]


def _box_stats(summary: dict, label: str) -> dict:
    """matplotlib ``bxp`` statistics from stored quantiles: whiskers at the 5th/95th."""
    return {
        "label": label,
        "whislo": _quantile(summary, 0.05),
        "q1": _quantile(summary, 0.25),
        "med": _quantile(summary, 0.5),
        "q3": _quantile(summary, 0.75),
        "whishi": _quantile(summary, 0.95),
        "fliers": [],
    }


def _anchor_stats(run: RunSummary) -> dict:
    return run.polarization.get(run.anchor, {})


def _size_plot(fig: plt.Figure, ax: plt.Axes, ylabel: str, title: str, **axes: object) -> bytes:
    """Finish a plot against anchor parameters (log x axis) and return it as PNG bytes."""
    ax.set(xscale="log", xlabel="anchor parameters", ylabel=ylabel, title=title, **axes)
    _legend(ax)
    return _png(fig)


def count_vs_size(runs: Sequence[RunSummary]) -> bytes:
    """Rosetta count against anchor parameters (log-log), the null count, the power-law fit."""
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    sizes = np.array([r.parameters for r in runs], dtype=float)
    ax.plot(sizes, [r.rosetta for r in runs], "o", color=_ROSETTA, label="Rosetta Neurons")
    nulls = [(r.parameters, r.rosetta_null) for r in runs if r.rosetta_null]
    if nulls:
        ax.plot(*zip(*nulls, strict=True), "s", color=_NULL, mfc="none", label="null baseline")
    for run in runs:
        ax.annotate(
            run.anchor,
            (run.parameters, run.rosetta),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    fit = power_law(runs)
    if fit is not None:
        grid = np.geomspace(sizes.min() / 1.3, sizes.max() * 1.3, 50)
        ax.plot(
            grid,
            fit.predict(grid),
            "--",
            color=_ROSETTA,
            lw=1,
            label=f"fit: count ∝ size^{fit.exponent:.2f} [{fit.ci_low:.2f}, {fit.ci_high:.2f}]",
        )
    return _size_plot(fig, ax, "neurons", "Rosetta Neurons vs model size", yscale="log")


def fraction_vs_size(runs: Sequence[RunSummary]) -> bytes:
    """Share of the anchor's MLP neurons that are Rosetta Neurons (real and null)."""
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    sizes = [r.parameters for r in runs]
    ax.plot(sizes, [100 * r.fraction for r in runs], "o-", color=_ROSETTA, label="real")
    nulls = [(r.parameters, 100 * r.rosetta_null / r.neurons) for r in runs if r.rosetta_null]
    if nulls:
        ax.plot(*zip(*nulls, strict=True), "s--", color=_NULL, mfc="none", label="null")
    return _size_plot(fig, ax, "% of anchor MLP neurons", "Rosetta fraction vs model size")


def polarization_boxes(runs: Sequence[RunSummary]) -> bytes:
    """Per metric, Rosetta vs the rest of each anchor, runs ordered by size."""
    fig, axes = plt.subplots(1, len(POLARIZATION_METRICS), figsize=(5.0 * 3, 4.4))
    for ax, metric in zip(axes, POLARIZATION_METRICS, strict=True):
        stats, colors = [], []
        for run in runs:
            entry = _anchor_stats(run).get(metric)
            if entry is None:
                continue
            for group, color in (("rosetta", _ROSETTA), ("rest", _REST)):
                if entry[group]["n"]:
                    stats.append(_box_stats(entry[group], f"{run.anchor}\n{group}"))
                    colors.append(color)
        if stats:
            boxes = ax.bxp(stats, patch_artist=True, showfliers=False)
            for patch, color in zip(boxes["boxes"], colors, strict=True):
                patch.set(facecolor=color, alpha=0.45)
        if metric == "kurtosis":
            ax.set_yscale("symlog")
        ax.set_title(_METRIC_LABELS[metric], fontsize=9)
        ax.tick_params(axis="x", labelsize=6, rotation=90)
    fig.suptitle("Neuron polarization: Rosetta (red) vs the rest (grey), 5/25/50/75/95th pct")
    return _png(fig)


def polarization_vs_size(runs: Sequence[RunSummary]) -> bytes:
    """P(Rosetta > rest) per metric against size: 0.5 is no polarization."""
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    sizes = [r.parameters for r in runs]
    for metric, marker in zip(POLARIZATION_METRICS, "o^s", strict=True):
        values = [_anchor_stats(r).get(metric, {}).get("p_rosetta_greater") for r in runs]
        points = [(s, v) for s, v in zip(sizes, values, strict=True) if v is not None]
        if points:
            ax.plot(*zip(*points, strict=True), marker=marker, label=metric)
    ax.axhline(0.5, color=_REST, lw=0.8, ls=":")
    return _size_plot(
        fig, ax, "P(Rosetta neuron > other neuron)", "Polarization effect size vs size", ylim=(0, 1)
    )


def specialisation_vs_size(runs: Sequence[RunSummary]) -> bytes:
    """Median and interquartile range of domain specialisation, Rosetta vs rest, by size."""
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    for group, color, shift in (("rosetta", _ROSETTA, 0.97), ("rest", _REST, 1.03)):
        points = []
        for run in runs:
            entry = _anchor_stats(run).get("specialisation", {}).get(group)
            if entry and entry["n"]:
                points.append(
                    (
                        run.parameters * shift,
                        _quantile(entry, 0.5),
                        _quantile(entry, 0.25),
                        _quantile(entry, 0.75),
                    )
                )
        if points:
            x, med, low, high = (np.array(v) for v in zip(*points, strict=True))
            ax.errorbar(
                x, med, yerr=[med - low, high - med], fmt="o-", color=color, capsize=3, label=group
            )
    return _size_plot(
        fig, ax, "specialisation (median, IQR)", "Domain specialisation vs model size"
    )


def domain_bars(neurons: Sequence[TopNeuron], domains: Sequence[str], domain: str) -> bytes:
    """Each top neuron's mean document activation per domain (one colour per domain; the
    target domain's bars are outlined)."""
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(neurons), 2.8))
    width = 0.8 / max(len(domains), 1)
    palette = plt.get_cmap("tab10")
    for j, name in enumerate(domains):
        heights = [n.domain_means.get(name, 0.0) for n in neurons]
        target = name == domain
        ax.bar(
            np.arange(len(neurons)) + j * width,
            heights,
            width,
            color=palette(j % 10),
            edgecolor="black" if target else "none",
            lw=1.2,
            label=name,
        )
    ax.set_xticks(
        np.arange(len(neurons)) + 0.4 - width / 2, [n.neuron for n in neurons], fontsize=7
    )
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("mean activation", fontsize=8)
    ax.set_title(f"per-domain mean activation of the top {domain} neurons", fontsize=8)
    ax.legend(
        fontsize=6,
        ncols=len(domains),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18),
        frameon=False,
    )
    return _png(fig)
