# Rule 21 (RULE.md), gate 2: the twelfth sealed set, scored once. Steps 1-2 fit border heads on
# every scored family of today's corpus (choose and the 54 held-out families; the sealed ones
# take no part) and may run before gate 1 is read; step 3 scores the sealed set and runs only
# once gate 1's compare.json exists. Each step is skipped where its output exists.
#   nohup setsid nice -n 19 bash docs/quality/rule21-s26/run-sealed.sh > out/logs/s26-sealed.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=docs/quality/rule21-s26
fit_border() {  # $1: output bank, $2: heads.border_candidates
  [ -e "$1" ] || .venv/bin/rosetta-filter domains configs/domains.yaml -q --borders-only \
    --set bank=configs/banks/offline-9 --set out="$1" --set 'heads.borders=[[code, math]]' \
    --set heads.border_candidates="$2"
}
date
echo "== 1. offline-9 + a symmetric border head (rule 21)"
fit_border out/banks/offline-9-symmetric symmetric
date
echo "== 2. offline-9 + a positive-side border head (rule 20, for the record)"
fit_border out/banks/offline-9-positive positive
date
test -e $HERE/compare.json || { echo "gate 1 not read yet: stopping before the sealed set"; exit 0; }
# gate 1 failed (RULE.md, "Result"): the sealed set stays sealed for the next rule
test -e $HERE/GATE1-PASSED || { echo "gate 1 failed: the sealed set is not scored"; exit 0; }
echo "== 3. the sealed set, scored once: relative, symmetric border, positive border"
score() {  # $1: output, then --set overrides
  local out=$1; shift
  [ -e "$out/evaluation.json" ] || .venv/bin/rosetta-filter evaluate configs/demo.yaml \
    --labels out/labelled/sealed.jsonl --set model.dtype=auto --cache out/cache/domains \
    --out "$out" "$@"
}
score out/evaluation/s26-sealed12-relative
score out/evaluation/s26-sealed12-symmetric \
  --set neurons.bank=out/banks/offline-9-symmetric --set neurons.borders=true
score out/evaluation/s26-sealed12-positive \
  --set neurons.bank=out/banks/offline-9-positive --set neurons.borders=true
.venv/bin/python -m bench.compare_evaluations out/evaluation/s26-sealed12-relative \
  out/evaluation/s26-sealed12-symmetric --out $HERE/sealed12.json --figure $HERE/sealed12.png
.venv/bin/python -m bench.compare_evaluations out/evaluation/s26-sealed12-relative \
  out/evaluation/s26-sealed12-positive --out $HERE/sealed12-positive.json
date
