"""What ``rosetta-filter evaluate`` writes: ``evaluation.json`` (every metric), two figures
(ROC curves per domain; held-out AUROC against the depth limit) as PNG files,
``evaluation.html`` with the tables and the figures inlined, so a user can look rather than read,
and ``scores.parquet``: every document's score under the configured filter and the baseline, per
domain, so a user can see which documents a filter ranks where and why a family fails.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rosetta_filter.evaluation.evaluate import (
    AUTO_HEADS,
    BASELINE,
    BORDER_HEADS,
    CASCADE_HEADS,
    CONFIGURED,
    POOLS,
    RELATIVE_HEADS,
    DomainResult,
)
from rosetta_filter.evaluation.labelled import LabelledSet
from rosetta_filter.files import atomic_path, write_bytes_atomic, write_json_atomic

_DEPTH = re.compile(rf"head/({'|'.join(POOLS)})/L(\d+)$")
SUMMARY_VARIANTS = (
    CONFIGURED,
    *AUTO_HEADS,
    *CASCADE_HEADS,
    *RELATIVE_HEADS,
    *BORDER_HEADS,
    "top_k/rosetta/held_out_families",
    "top_k/rosetta/probe_auroc",
    BASELINE,
)


def roc_points(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct threshold, from (0, 0) to (1, 1)."""
    order = np.argsort(-scores, kind="stable")
    hits = positive[order].astype(np.float64)
    distinct = np.r_[np.diff(scores[order]) != 0, True]
    tpr = np.cumsum(hits)[distinct] / max(hits.sum(), 1)
    fpr = np.cumsum(1 - hits)[distinct] / max((1 - hits).sum(), 1)
    return np.r_[0.0, fpr], np.r_[0.0, tpr]


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def roc_figure(results: dict[str, DomainResult], data: LabelledSet) -> bytes:
    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.2), squeeze=False)
    for ax, (domain, result) in zip(axes[0], results.items(), strict=True):
        positive = data.labels == domain
        for name in (CONFIGURED, "top_k/rosetta/probe_auroc", BASELINE):  # those it has
            if name in result.scores:
                fpr, tpr = roc_points(result.scores[name], positive)
                auc = result.metrics[name]["auroc"]
                ax.plot(fpr, tpr, label=f"{name} {auc:.3f}")
        ax.plot([0, 1], [0, 1], color="#bbb", lw=0.8)
        ax.set(title=domain, xlabel="false positive rate", ylabel="true positive rate")
        ax.legend(fontsize=6, loc="lower right")
    return _png(fig)


def depth_figure(results: dict[str, DomainResult]) -> bytes | None:
    fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.2), squeeze=False)
    drawn = False
    for ax, (domain, result) in zip(axes[0], results.items(), strict=True):
        for pool in POOLS:
            rows = sorted(
                (int(m.group(2)), metrics)
                for name, metrics in result.metrics.items()
                if (m := _DEPTH.match(name)) and m.group(1) == pool
            )
            if not rows:
                continue
            drawn = True
            depths = [depth for depth, _ in rows]
            (line,) = ax.plot(
                depths, [m["auroc"] for _, m in rows], marker="o", ms=2, label=f"head ({pool})"
            )
            folds = [m.get("validation", {}).get("worst_fold_auroc") for _, m in rows]
            if None not in folds:  # the bank's own worst choose-family fold
                ax.plot(depths, folds, ls=":", color=line.get_color(), lw=1)
            auto = result.metrics.get(f"head/{pool}/auto")
            if auto is not None:  # where max_layer: auto lands
                ax.plot(auto["max_layer"], auto["auroc"], "*", ms=10, color=line.get_color())
        if BASELINE in result.metrics:
            ax.axhline(result.metrics[BASELINE]["auroc"], color="#888", ls="--", label="TF-IDF")
        ax.set(title=domain, xlabel="max_layer")
        ax.legend(fontsize=6, loc="lower right")
    axes[0][0].set_ylabel("AUROC")
    fig.suptitle(
        "solid: evaluated set; dotted: the bank's worst cross-validation fold; *: max_layer auto",
        fontsize=9,
        y=1.04,
    )
    return _png(fig) if drawn else (plt.close(fig) or None)


def family_figure(results: dict[str, DomainResult], target: float = 0.99) -> bytes | None:
    """Per domain, each of its families' AUROC (its documents against every other domain's)
    under the configured filter and TF-IDF, weakest on top, with a line at ``target``: a pooled
    AUROC hides which source a filter misses, and a table of 40 families is slow to read."""
    drawn = {
        domain: result.metrics[CONFIGURED]["family_auroc"]
        for domain, result in results.items()
        if result.metrics.get(CONFIGURED, {}).get("family_auroc")
    }
    if not drawn:
        return None
    most = max(len(families) for families in drawn.values())
    fig, axes = plt.subplots(
        1,
        len(drawn),
        figsize=(4.2 * len(drawn), 1.2 + 0.22 * most),
        squeeze=False,
        sharex=True,  # one scale: a weak family reads as weak next to every other domain's
        layout="constrained",  # room for the family names between the panels
    )
    for ax, (domain, ours) in zip(axes[0], drawn.items(), strict=True):
        names = sorted(ours, key=ours.__getitem__)
        rows = np.arange(len(names))
        baseline = results[domain].metrics.get(BASELINE, {}).get("family_auroc", {})
        if baseline:
            values = [baseline.get(name, np.nan) for name in names]
            ax.scatter(values, rows, marker="|", s=80, color="#888", label="TF-IDF", zorder=2)
        ax.scatter([ours[n] for n in names], rows, s=16, label="configured", zorder=3)
        ax.axvline(target, color="#c44", lw=0.7, ls=":")
        ax.set_yticks(rows, names, fontsize=6)
        ax.set_ylim(len(names) - 0.5, -0.5)  # the weakest family on top
        ax.set(title=domain, xlabel="AUROC (family vs other domains)")
        ax.legend(fontsize=6, loc="lower left")
    return _png(fig)


def summary_rows(results: dict[str, DomainResult]) -> list[dict[str, Any]]:
    rows = []
    for domain, result in results.items():
        for name in SUMMARY_VARIANTS:
            if name in result.metrics:
                m = result.metrics[name]
                rows.append(
                    {
                        "domain": domain,
                        "variant": name,
                        "auroc": m["auroc"],
                        "auroc_ci": m.get("auroc_ci"),
                        "worst_family_auroc": m.get("worst_family_auroc"),
                        "precision": m.get("precision"),
                        "recall": m.get("recall"),
                        "max_layer": m.get("max_layer"),
                        # a cascade: shallow head's layer, share deferred, share of layers run
                        "cascade": m.get("cascade"),
                        "neurons": len(m["neurons"]) if "neurons" in m else None,
                    }
                )
    return rows


def write_evaluation(
    results: dict[str, DomainResult], data: LabelledSet, out_dir: Path, meta: dict[str, Any]
) -> Path:
    """Write the JSON, the figures and the HTML page into ``out_dir``; returns the JSON path."""
    figures = {
        "roc": roc_figure(results, data),
        "depth": depth_figure(results),
        "families": family_figure(results),
    }
    for name, png in figures.items():
        if png is not None:
            write_bytes_atomic(out_dir / "figures" / f"{name}.png", png)
    payload = {
        **meta,
        "summary": summary_rows(results),
        "domains": {d: r.metrics for d, r in results.items()},
        "unavailable": {d: r.unavailable for d, r in results.items() if r.unavailable},
    }
    write_json_atomic(out_dir / "evaluation.json", payload)
    write_scores(results, data, out_dir / "scores.parquet")
    write_bytes_atomic(out_dir / "evaluation.html", _html(payload, figures).encode())
    return out_dir / "evaluation.json"


def write_scores(results: dict[str, DomainResult], data: LabelledSet, path: Path) -> None:
    """One row per evaluated document (id, label, family) with a ``{domain}/{variant}`` column
    for the configured filter and the baseline of every domain."""
    columns: dict[str, Any] = {"id": data.ids, "label": data.labels, "family": data.families}
    for domain, result in results.items():
        for name in (CONFIGURED, BASELINE):
            if name in result.scores:
                columns[f"{domain}/{name}"] = result.scores[name]
    with atomic_path(path) as tmp:
        pq.write_table(pa.table(columns), tmp)


def family_rows(domains: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per domain and labelled family: the configured filter's AUROC beside the baseline's, so
    the family that fails is one look away. ``side`` says whether the family is the domain's
    (its documents against all others) or another domain's (all the domain's documents
    against that family's: the foreign source the filter confuses with the domain)."""
    rows = []
    for domain, metrics in domains.items():
        for side, key in (("domain", "family_auroc"), ("other", "negative_family_auroc")):
            configured = metrics.get(CONFIGURED, {}).get(key, {})
            baseline = metrics.get(BASELINE, {}).get(key, {})
            for family in sorted(configured):
                rows.append(
                    {
                        "domain": domain,
                        "side": side,
                        "family": family,
                        CONFIGURED: configured[family],
                        BASELINE: baseline.get(family),
                    }
                )
    return rows


def _table(rows: list[dict[str, Any]], head: list[str]) -> str:
    cells = "".join(
        "<tr>" + "".join(f"<td>{_cell(row[k])}</td>" for k in head) + "</tr>" for row in rows
    )
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + f"</tr>{cells}</table>"


def _html(payload: dict[str, Any], figures: dict[str, bytes | None]) -> str:
    head = [
        "domain",
        "variant",
        "auroc",
        "auroc_ci",
        "worst_family_auroc",
        "precision",
        "recall",
        "max_layer",
        "cascade",
    ]
    images = "".join(
        f'<img alt="{name}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        for name, png in figures.items()
        if png is not None
    )
    families = family_rows(payload["domains"])
    return (
        "<!doctype html><meta charset=utf-8><title>rosetta-filter evaluation</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:right}</style>"
        f"<h1>Evaluation of {html.escape(str(payload.get('labels')))}</h1>"
        f"<p>{html.escape(json.dumps(payload.get('config_summary', {})))}</p>"
        + _table(payload["summary"], head)
        + images
        + ("<h2>AUROC per family</h2>" if families else "")
        + (_table(families, ["domain", "side", "family", CONFIGURED, BASELINE]) if families else "")
    )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return "&ndash;".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{html.escape(str(k))} {_cell(v)}" for k, v in value.items())
    return html.escape("" if value is None else str(value))
