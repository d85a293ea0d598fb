# Rule 20 (RULE.md): session 22's fold banks plus a border head fitted by the product on each
# fold's training corpus, then the cross-fit scored through configs/demo.yaml with
# neurons.borders, then the paired comparison with the relative score (session 24's mean side).
# Resumable: a fold's bordered bank and its scores are reused once written. Run in the background:
#   nohup setsid nice -n 19 bash docs/quality/rule20-s25/run.sh > out/logs/s25-rule20.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=out/crossfit/s25-border
date
echo "== 1. a border head (code | math) on each fold bank"
for fold in 0 1 2 3; do
  mkdir -p $OUT/fold-$fold
  [ -e $OUT/fold-$fold/train.jsonl ] || cp out/crossfit/s22/fold-$fold/train.jsonl $OUT/fold-$fold/
  [ -e $OUT/fold-$fold/bank ] || .venv/bin/rosetta-filter domains configs/domains.yaml -q \
    --borders-only --set bank=out/crossfit/s22/fold-$fold/bank --set out=$OUT/fold-$fold/bank \
    --set labelled.path=$OUT/fold-$fold/train.jsonl --set 'heads.borders=[[code, math]]'
  date
done
echo "== 2. the cross-fit, scored with neurons.borders"
.venv/bin/python -m bench.crossfit configs/domains.yaml configs/demo.yaml \
  --heldout out/labelled/heldout.jsonl --folds 4 --cache out/cache/domains \
  --set model.dtype=auto --set neurons.borders=true --out $OUT
cmp out/crossfit/s24-mean/folds.json $OUT/folds.json && echo "same folds"
date
echo "== 3. gate 1: paired with the relative score"
.venv/bin/python -m bench.compare_evaluations out/crossfit/s24-mean $OUT \
  --out docs/quality/rule20-s25/compare.json --figure docs/quality/rule20-s25/compare.png
date
