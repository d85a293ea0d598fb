# The cross-fit gate of a rule that changes the head fit (rule 28): cross-fit configs/domains.yaml
# with the rule's overrides on the folds of the default's cross-fit of the same corpus, then
# compare the two paired.
#   bash docs/quality/crossfit-gate.sh BASE OUT COMPARE KEY=VALUE...
# e.g. out/crossfit/s30-default out/crossfit/s30-rule28 docs/quality/rule28-s30/crossfit \
#   'heads.strengths=[0.001,0.002,0.003,0.005,0.01,0.03,0.1,0.3,1.0]'
# writes OUT (each fold's bank and scores, reused once written: a killed run resumes at its
# fold) and COMPARE.json, COMPARE.png. Hours on two cores (one bank fit per fold).
set -euo pipefail
base=$1 out=$2 compare=$3
shift 3
cd "$(dirname "$0")/../.."  # the repository root: the paths are relative to it
export HF_HUB_OFFLINE=1
test -e "$base/crossfit.json" || { echo "the default's cross-fit ($base) has not finished"; exit 1; }
overrides=()
for override in "$@"; do overrides+=(--domains-set "$override"); done
sha256sum out/labelled/choose.jsonl out/labelled/heldout.jsonl
date
.venv/bin/python -m bench.crossfit configs/domains.yaml configs/demo.yaml "${overrides[@]}" \
  --heldout out/labelled/heldout.jsonl --folds 4 --cache out/cache/domains \
  --set model.dtype=auto --out "$out"
date
.venv/bin/python -c "import json, sys; f = [json.load(open(p))['folds'] for p in sys.argv[1:]]; \
  assert f[0] == f[1], 'different folds'; print('same folds')" "$base/folds.json" "$out/folds.json"
.venv/bin/python -m bench.compare_evaluations "$base" "$out" \
  --out "$compare.json" --figure "$compare.png"
date
