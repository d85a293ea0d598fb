"""Exploration (not a rule): a code-vs-math border head composed with the relative score,
on session 24's mean cross-fit folds. Seen data: numbers here only decide whether to register
a rule."""
import json, sys, time
import numpy as np, pyarrow.parquet as pq, yaml
from sklearn.metrics import roc_auc_score
from discovery.domain.job import DomainsConfig, choose_matrix, head_settings
from discovery.domain.lofo import LabelledDocs, domain_stats, fold_plan
from discovery.domain.heads import fit_head
from rosetta_filter.evaluation.labelled import read_labelled

base = yaml.safe_load(open("configs/domains.yaml"))
cfg = DomainsConfig(**base)
heldout = read_labelled("out/labelled/heldout.jsonl")
scores = pq.read_table("out/crossfit/s24-mean/scores.parquet",
                       columns=["id", "label", "family", "fold", "code/configured", "math/configured"]).to_pandas()
out = {}
for k in range(4):
    t0 = time.time()
    train = read_labelled(f"out/crossfit/s24-mean/fold-{k}/train.jsonl")
    m = choose_matrix(cfg, train)
    keep = np.isin(m.labels.domains, ["code", "math"])
    values = np.ascontiguousarray(m.values[keep])
    labels = LabelledDocs(m.labels.domains[keep], m.labels.families[keep])
    layers = np.arange(values.shape[1]) // m.d_mlp
    stats = domain_stats(values, labels, "code")
    plan = fold_plan(values, labels, "code")
    head = fit_head(values, labels, "code", stats, np.arange(values.shape[1]),
                    head_settings(cfg.heads), plan, layers)
    fold = scores[scores.fold == k]
    ids = set(fold.id)
    idx = [i for i, x in enumerate(heldout.ids) if x in ids]
    sub = type(heldout)([heldout.ids[i] for i in idx], [heldout.texts[i] for i in idx],
                        heldout.labels[idx], heldout.families[idx], heldout.roles[idx])
    tm = choose_matrix(cfg, sub)
    x = tm.values[:, head.columns]
    b = head.intercept + ((x - np.array(head.norm_mean)) / np.array(head.norm_std)) @ np.array(head.weights)
    out[k] = dict(zip(sub.ids, b.tolist()))
    print(k, "neurons", len(head.columns), "strength", head.strength, "fold aurocs worst", round(head.worst, 4),
          f"{time.time()-t0:.0f}s", flush=True)
json.dump(out, open("out/explore/pairwise-b.json", "w"))
