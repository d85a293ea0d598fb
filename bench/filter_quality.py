"""How well a finished run selected its target domain, against the documents' domain labels.

Reads a run directory whose source records carry a ``domain`` field (kept in the shards'
``metadata`` column), prints the kept share per domain and the precision / recall of the kept
set for ``--domain``. Used by ``make demo``.

    python bench/filter_quality.py out/demo --domain code
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq


def domains_of(folder: Path) -> Counter:
    counts: Counter = Counter()
    for shard in sorted(folder.glob("*.parquet")):
        for meta in pq.read_table(shard, columns=["metadata"]).column("metadata").to_pylist():
            counts[json.loads(meta).get("domain", "?")] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--domain", required=True, help="the domain the run filtered toward")
    args = parser.parse_args()
    kept = domains_of(args.run_dir / "data")
    rejected = domains_of(args.run_dir / "rejected")
    total = kept + rejected
    print(f"{'domain':<10} {'kept':>6} {'of':>6} {'share':>7}")
    for domain in sorted(total):
        share = kept[domain] / total[domain]
        print(f"{domain:<10} {kept[domain]:>6} {total[domain]:>6} {share:>7.1%}")
    n_kept = sum(kept.values())
    precision = kept[args.domain] / n_kept if n_kept else 0.0
    recall = kept[args.domain] / total[args.domain] if total[args.domain] else 0.0
    print(
        f"{args.domain}: precision {precision:.3f}, recall {recall:.3f} "
        f"({n_kept} kept of {sum(total.values())})"
    )


if __name__ == "__main__":
    main()
