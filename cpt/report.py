"""The study's table and figures from ``results.json``: what a reader compares at a glance.

Per arm: the selection (precision of the target against the labels, seconds, layers the model
ran) and the training outcome (target and general bits per byte after training, mean and range
over seeds), with the share of the oracle's gain over random that the arm achieves
(``(random - arm) / (random - oracle)`` on target bits per byte).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rosetta_filter.files import write_text_atomic


def arm_outcomes(results: dict[str, Any]) -> dict[str, dict[str, list[float]]]:
    """Per arm with finished runs: final bpb per seed on each evaluation set (``target``,
    ``general``) and on each target family (``target/{family}``)."""
    out: dict[str, dict[str, list[float]]] = {}
    for key, run in results["runs"].items():
        arm = key.split("/")[0]
        last = run["curve"][-1]
        entry = out.setdefault(arm, {})
        entry.setdefault("target", []).append(last["target_bpb"])
        entry.setdefault("general", []).append(last["general_bpb"])
        for family, bpb in last.get("target_bpb_by_family", {}).items():
            entry.setdefault(f"target/{family}", []).append(bpb)
    return out


def oracle_share(outcomes: dict[str, dict[str, Any]], arm: str) -> float | None:
    """The arm's share of the oracle's gain over random in target bpb (None if unknown)."""
    if not {"random", "oracle", arm} <= set(outcomes):
        return None
    random, oracle = np.mean(outcomes["random"]["target"]), np.mean(outcomes["oracle"]["target"])
    gain = random - oracle
    return float((random - np.mean(outcomes[arm]["target"])) / gain) if gain > 0 else None


def _learning_rate(results: dict[str, Any]) -> str:
    """Which peak learning rate every arm trained with, and how it was picked."""
    search = results["lr_search"]
    if not search:
        return f"Learning rate {results['lr']:g} (set, not searched)."
    tried = ", ".join(f"{lr}: {bpb:.4f}" for lr, bpb in search.items())
    return (
        f"Learning rate {results['lr']:g}, picked on the random arm's target bpb "
        f"(candidates {tried})."
    )


def markdown_table(results: dict[str, Any]) -> str:
    outcomes = arm_outcomes(results)
    base = results["base"]
    lines = [
        f"Before training: target {base['target_bpb']:.4f} bpb, general "
        f"{base['general_bpb']:.4f} bpb. Budget {results['budget_tokens']:,} tokens per arm, "
        f"{results['train_tokens']:,} trained ({results['train_steps']} steps).",
        _learning_rate(results),
        "",
        "| arm | precision (tokens) | selection s | layers | target bpb | general bpb "
        "| share of oracle gain |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, sel in results["arms"].items():
        done = outcomes.get(arm)
        share = oracle_share(outcomes, arm)
        lines.append(
            f"| {arm} | {sel['precision_tokens']:.3f} | {sel['seconds']:.0f} | "
            f"{sel['layers_run']} | {_spread(done['target']) if done else 'not trained'} | "
            f"{_spread(done['general']) if done else ''} | "
            f"{'' if share is None else f'{share:.2f}'} |"
        )
    families = sorted({k for o in outcomes.values() for k in o if k.startswith("target/")})
    if families:
        base_families = base.get("target_bpb_by_family", {})
        lines += [
            "",
            "Target bits per byte by evaluation family (mean over seeds; before training in "
            "the first row):",
            "",
            "| arm | " + " | ".join(f.removeprefix("target/") for f in families) + " |",
            "|---|" + "---:|" * len(families),
            "| (before) | "
            + " | ".join(
                f"{base_families.get(f.removeprefix('target/'), float('nan')):.4f}"
                for f in families
            )
            + " |",
        ]
        for arm, done in outcomes.items():
            cells = [f"{np.mean(done[f]):.4f}" if f in done else "" for f in families]
            lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _spread(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f} (1 seed)"
    return f"{np.mean(values):.4f} ({min(values):.4f}-{max(values):.4f}, {len(values)} seeds)"


def write_report(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """``report.md`` and ``curves.png`` (bpb vs tokens per arm) under ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    table = out_dir / "report.md"
    write_text_atomic(table, markdown_table(results))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    base = results["base"]
    for key, run in sorted(results["runs"].items()):
        tokens = [0] + [p["tokens"] for p in run["curve"]]
        for ax, metric in zip(axes, ("target_bpb", "general_bpb"), strict=True):
            ax.plot(
                tokens, [base[metric]] + [p[metric] for p in run["curve"]], marker="o", label=key
            )
    for ax, title in zip(axes, ("target domain (held-out families)", "general"), strict=True):
        ax.set_title(f"{title}: bits per byte")
        ax.set_xlabel("training tokens")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    curves = out_dir / "curves.png"
    fig.savefig(curves, dpi=110)
    plt.close(fig)
    return [table, curves]
