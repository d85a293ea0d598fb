"""A cross-fit's table as DISCOVERY.md shows it (session 30): per domain the within-fold AUROC of
the configured filter, the relative cascade, the head alone, Rosetta-only and consistent-group
relative scores and TF-IDF + LR; and each code and math family's own AUROC (its documents
against the other domains' documents of its fold), the six worst printed. From the repository
root:

    python docs/quality/rule28-s30/crossfit_table.py out/crossfit/s30-default OUT.json
"""

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from discovery.domain.crossfit import pooled_aurocs
from rosetta_filter.evaluation.uncertainty import grouped_auroc

out = sys.argv[1]
table = pq.read_table(f"{out}/scores.parquet")
variants = (
    "configured",
    "head/all/relative_cascade",
    "head/all/auto",
    "head/all/L29",
    "head/rosetta/relative",
    "head/consistent/relative",
    "tfidf_lr",
)
result = pooled_aurocs(table, variants)
for domain, row in result.items():
    print(domain, {k: round(v["within_fold"], 4) for k, v in row.items()})
data = table.to_pydict()
labels = np.asarray(data["label"], dtype=object)
families = np.asarray(data["family"], dtype=object)
folds = np.asarray(data["fold"])
errs = {}
for domain in ("code", "math"):
    for variant in ("configured", "tfidf_lr"):
        values = np.asarray(data[f"{domain}/{variant}"], dtype=np.float64)
        own = {}
        for family in sorted(set(families[labels == domain])):
            keep = (families == family) | (labels != domain)
            keep &= np.isin(folds, np.unique(folds[families == family]))
            own[family] = grouped_auroc(values[keep], labels[keep] == domain, folds[keep])
        errs[f"{domain}/{variant}"] = own
for domain in ("code", "math"):
    own, base = errs[f"{domain}/configured"], errs[f"{domain}/tfidf_lr"]
    worst = sorted(own, key=own.get)[:6]
    print(domain, "worst:", [(f, round(own[f], 3), round(base[f], 3)) for f in worst])
Path(sys.argv[2]).write_text(json.dumps({"auroc": result, "family": errs}, indent=1))
