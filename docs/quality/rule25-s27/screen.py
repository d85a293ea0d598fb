"""Rule 25's gate 0 (session 27, RULE.md): each domain's full-depth all-neuron head at one L1
strength at a time, on today's corpus (choose + 59 held-out families in session 27), with the
bank fit's own nested family-disjoint cross-validation. Prints the worst and mean fold AUROC
and the neuron count per strength and writes them beside this file (or to a third argument, a
JSON path: rule 28 screens today's corpus with it). From the repository root:

    python docs/quality/rule25-s27/screen.py 0.001,0.002,0.003,0.005,0.01,0.03 code,math
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import yaml

from discovery.domain.heads import HeadSettings, _fit, _standardise, candidate_columns, fit_head
from discovery.domain.job import DomainsConfig, choose_matrix
from discovery.domain.lofo import domain_stats, fold_plan
from discovery.domain.ranked import RankedMatrix

cfg = DomainsConfig(**yaml.safe_load(Path("configs/domains.yaml").read_text()))
choose = choose_matrix(cfg)
values, labels = choose.values, choose.labels
layers = np.arange(values.shape[1]) // choose.d_mlp
pool = np.arange(values.shape[1])
ranked = RankedMatrix.of(values)
grid = [float(x) for x in sys.argv[1].split(",")]
domains = sys.argv[2].split(",")
out = {}
for domain in domains:
    stats = domain_stats(values, labels, domain, ranked=ranked)
    plan = fold_plan(values, labels, domain, ranked)
    for c in grid:
        started = time.time()
        settings = HeadSettings(32, 128, (c,), candidate_order="per_layer")
        head = fit_head(values, labels, domain, stats, pool, settings, plan, layers)
        # the rule skips a strength whose fit on every document keeps more than 32 neurons
        z, _, _ = _standardise(values[:, candidate_columns(stats, pool, layers, settings)])
        kept = int((_fit(z.astype(np.float64), labels.domains == domain, c, 0).coef_ != 0).sum())
        out[f"{domain}/{c}"] = {
            "worst": head.worst,
            "mean": head.mean,
            "neurons": len(head.columns),
            "kept_by_the_full_fit": kept,
            "fold_auroc": head.fold_auroc,
        }
        print(
            f"{domain} C={c}: worst {head.worst:.4f} mean {head.mean:.4f} "
            f"n={len(head.columns)} (full fit keeps {kept}) ({time.time() - started:.0f} s)",
            flush=True,
        )
written = (
    Path(sys.argv[3])
    if len(sys.argv) > 3
    else Path(__file__).with_name(f"screen-{'-'.join(domains)}.json")
)
written.write_text(json.dumps(out, indent=1))
