"""What ``rosetta-filter evaluate --cache`` saves: one labelled sample evaluated three ways in one
run, side by side. ``scorer``: the model reads the union of every variant's neurons and stops at
the deepest of them (a plain evaluation); ``cold``: the pooled pass fills an empty cache (every
neuron of every layer) and the variants are scored from it; ``warm``: the same again, every row
read from the cache, as when a second bank is evaluated on the same file. The TF-IDF baseline is
off: it costs the same in all three.

    python -m bench.evaluate_cache configs/demo.yaml out/labelled/heldout.jsonl --docs 200
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from rosetta_filter.config import load_config
from rosetta_filter.evaluation.evaluate import evaluate
from rosetta_filter.evaluation.labelled import LabelledSet, read_labelled


def sample(data: LabelledSet, docs: int, seed: int = 0) -> LabelledSet:
    """``docs`` documents drawn without replacement (all when fewer), in file order."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(data), size=min(docs, len(data)), replace=False))
    pick = lambda values: [values[i] for i in rows]  # noqa: E731
    return LabelledSet(
        pick(data.ids),
        pick(data.texts),
        data.labels[rows],
        data.families[rows],
        data.roles[rows],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path, help="run config with neurons.bank")
    parser.add_argument("labels", type=Path, help="labelled file")
    parser.add_argument("--docs", type=int, default=200, help="documents sampled from it")
    parser.add_argument("--set", dest="overrides", action="append", help="config override")
    args = parser.parse_args()
    cfg = load_config(args.config, args.overrides)
    data = sample(read_labelled(args.labels), args.docs)
    timings, results = {}, {}
    with tempfile.TemporaryDirectory(prefix="evaluate-cache-bench-") as cache:
        for name, cache_dir in (("scorer", None), ("cold", Path(cache)), ("warm", Path(cache))):
            start = time.perf_counter()
            results[name] = evaluate(cfg, data, None, cache_dir=cache_dir)
            timings[name] = time.perf_counter() - start
    table = Table(
        "path", "seconds", "docs/s", "vs scorer", "largest |AUROC - scorer's|",
        title=f"{len(data)} documents, {cfg.model.name} ({cfg.model.dtype}), {args.config}",
    )  # fmt: skip
    for name, seconds in timings.items():
        gap = max(
            abs(m["auroc"] - results["scorer"][d].metrics[v]["auroc"])
            for d, r in results[name].items()
            for v, m in r.metrics.items()
        )
        table.add_row(
            name, f"{seconds:.1f}", f"{len(data) / seconds:.1f}",
            f"{timings['scorer'] / seconds:.2f}x", f"{gap:.1e}",
        )  # fmt: skip
    Console().print(table)


if __name__ == "__main__":
    main()
