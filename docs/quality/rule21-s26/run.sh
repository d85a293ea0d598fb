# Rule 21 (RULE.md), gate 1: the default's fold banks of the 54-family cross-fit
# (out/crossfit/s25-default, `bash out/logs/s25-default-crossfit.sh`) plus a symmetric border
# head fitted by the product on each fold's training corpus, then the cross-fit scored through
# configs/demo.yaml with neurons.borders, then the paired comparison with the relative score.
# Resumable: a fold's bordered bank and its scores are reused once written. In the background:
#   nohup setsid nice -n 19 bash docs/quality/rule21-s26/run.sh > out/logs/s26-rule21.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../../.."
BASE=out/crossfit/s25-default
OUT=out/crossfit/s26-symmetric
test -e $BASE/crossfit.json || { echo "the default's cross-fit ($BASE) has not finished"; exit 1; }
date
echo "== 1. a symmetric border head (code | math) on each fold bank"
for fold in 0 1 2 3; do
  mkdir -p $OUT/fold-$fold
  [ -e $OUT/fold-$fold/train.jsonl ] || cp $BASE/fold-$fold/train.jsonl $OUT/fold-$fold/
  [ -e $OUT/fold-$fold/bank ] || .venv/bin/rosetta-filter domains configs/domains.yaml -q \
    --borders-only --set bank=$BASE/fold-$fold/bank --set out=$OUT/fold-$fold/bank \
    --set labelled.path=$OUT/fold-$fold/train.jsonl --set 'heads.borders=[[code, math]]' \
    --set heads.border_candidates=symmetric
  date
done
echo "== 2. the cross-fit, scored with neurons.borders"
.venv/bin/python -m bench.crossfit configs/domains.yaml configs/demo.yaml \
  --heldout out/labelled/heldout.jsonl --folds 4 --cache out/cache/domains \
  --set model.dtype=auto --set neurons.borders=true --out $OUT
cmp $BASE/folds.json $OUT/folds.json && echo "same folds"
date
echo "== 3. gate 1: paired with the relative score"
.venv/bin/python -m bench.compare_evaluations $BASE $OUT \
  --out docs/quality/rule21-s26/compare.json --figure docs/quality/rule21-s26/compare.png
date
