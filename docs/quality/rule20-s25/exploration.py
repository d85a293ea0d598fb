"""The exploration that suggested rule 20 (run once, session 25, before the rule was written):
a code-vs-math head fit with the existing ``fit_head`` on each of session 24's mean cross-fit
folds (the fold's ``train.jsonl``, code and math documents only), its logit on the fold's
held-out documents written to out/explore/pairwise-b.json; composed with the out-of-fold
relative scores by hand. Kept as the record of what was seen (RULE.md); the product's
implementation is discovery/domain/borders.py. Run from the repository root:
``python docs/quality/rule20-s25/exploration.py``."""

import json
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import yaml

from discovery.domain.heads import fit_head
from discovery.domain.job import DomainsConfig, choose_matrix, head_settings
from discovery.domain.lofo import LabelledDocs, domain_stats, fold_plan
from rosetta_filter.evaluation.labelled import read_labelled

cfg = DomainsConfig(**yaml.safe_load(Path("configs/domains.yaml").read_text()))
heldout = read_labelled("out/labelled/heldout.jsonl")
scores = pq.read_table("out/crossfit/s24-mean/scores.parquet", columns=["id", "fold"]).to_pandas()
out = {}
for k in range(4):
    started = time.time()
    train = read_labelled(f"out/crossfit/s24-mean/fold-{k}/train.jsonl")
    m = choose_matrix(cfg, train)
    keep = np.isin(m.labels.domains, ["code", "math"])
    values = np.ascontiguousarray(m.values[keep])
    labels = LabelledDocs(m.labels.domains[keep], m.labels.families[keep])
    layers = np.arange(values.shape[1]) // m.d_mlp
    stats = domain_stats(values, labels, "code")
    plan = fold_plan(values, labels, "code")
    head = fit_head(
        values, labels, "code", stats, np.arange(values.shape[1]), head_settings(cfg.heads),
        plan, layers,
    )  # fmt: skip
    ids = set(scores[scores.fold == k].id)
    idx = [i for i, x in enumerate(heldout.ids) if x in ids]
    sub = type(heldout)(
        [heldout.ids[i] for i in idx], [heldout.texts[i] for i in idx], heldout.labels[idx],
        heldout.families[idx], heldout.roles[idx],
    )  # fmt: skip
    x = choose_matrix(cfg, sub).values[:, head.columns]
    z = (x - np.array(head.norm_mean)) / np.array(head.norm_std)
    out[k] = dict(zip(sub.ids, (head.intercept + z @ np.array(head.weights)).tolist(), strict=True))
    print(
        k, len(head.columns), head.strength, round(head.worst, 4), f"{time.time() - started:.0f}s"
    )
Path("out/explore/pairwise-b.json").write_text(json.dumps(out))
