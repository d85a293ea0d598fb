# Rule 18 (RULE.md): the pooled pass, then both cross-fits. Resumable: the pass keeps a shard per
# 512 documents, the cross-fits their finished folds. Run niced, in the background:
#   nohup setsid nice -n 19 bash docs/quality/rule18-s24/run.sh > out/logs/s24-rule18.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../../.."
PY=.venv/bin/python
date
echo "== 1. pooled pass: topk_mean, with max and frac_active beside it"
$PY - <<'PY'
import time

import yaml

from discovery.domain.job import DomainsConfig, choose_matrix

cfg = DomainsConfig(**yaml.safe_load(open("docs/quality/rule18-s24/domains-topk.yaml")))
done, started = [0], time.perf_counter()

def advance(n: int) -> None:
    done[0] += n
    if done[0] % 256 < n:
        print(f"{done[0]} documents, {time.perf_counter() - started:.0f} s", flush=True)

print("rows", choose_matrix(cfg, advance=advance).values.shape, flush=True)
PY
date
echo "== 2. mean pooling: session 22's fold banks rescored with configs/demo.yaml"
for fold in 0 1 2 3; do
  mkdir -p out/crossfit/s24-mean/fold-$fold
  [ -e out/crossfit/s24-mean/fold-$fold/bank ] || cp -r out/crossfit/s22/fold-$fold/bank out/crossfit/s22/fold-$fold/train.jsonl out/crossfit/s24-mean/fold-$fold/
done
$PY -m bench.crossfit configs/domains.yaml configs/demo.yaml --heldout out/labelled/heldout.jsonl \
  --folds 4 --cache out/cache/domains --set model.dtype=auto --out out/crossfit/s24-mean
date
echo "== 3. top-k mean pooling: fold banks fitted and scored"
$PY -m bench.crossfit docs/quality/rule18-s24/domains-topk.yaml configs/demo.yaml \
  --heldout out/labelled/heldout.jsonl --folds 4 --cache out/cache/domains \
  --set model.dtype=auto --set scoring.pooling=topk_mean --out out/crossfit/s24-topk
date
cmp out/crossfit/s24-mean/folds.json out/crossfit/s24-topk/folds.json && echo "same folds"
date
echo "== 4. gate 3's banks: every scored family, one per pooling (not scored here)"
[ -e out/banks/offline-10-mean ] || .venv/bin/rosetta-filter domains configs/domains.yaml -q \
  --set out=out/banks/offline-10-mean
[ -e out/banks/offline-10-topk ] || .venv/bin/rosetta-filter domains \
  docs/quality/rule18-s24/domains-topk.yaml -q
date
echo "== 5. gates 1-2: the two cross-fits, paired within folds"
$PY -m bench.compare_evaluations out/crossfit/s24-mean out/crossfit/s24-topk \
  --out docs/quality/rule18-s24/compare.json --figure docs/quality/rule18-s24/compare.png
date
