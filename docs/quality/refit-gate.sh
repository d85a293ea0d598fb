# The gate of a bank-refit rule (rules 26, 27): fit the candidate with the committed procedure,
# score the sealed set once with the committed bank and the candidate, compare them paired.
#   bash docs/quality/refit-gate.sh BASE_BANK CANDIDATE TAG OUT FAMILY...
# e.g. offline-12 offline-13 s29-sealed15 docs/quality/rule27-s29/sealed15 gnuplot-demos ...:
# fits out/banks/CANDIDATE-heads (skipped if it exists), writes out/evaluation/TAG-{BASE,
# CANDIDATE} (each skipped if it exists) and OUT.json, OUT.png. FIT_ONLY=1 stops after
# the fit. The pooled pass behind the fit is cached per shard of 512 documents
# (out/cache/domains), so a killed run resumes at its last shard; the fit itself restarts.
set -euo pipefail
base=$1 candidate=$2 tag=$3 out=$4
shift 4
cd "$(dirname "$0")/../.."  # the repository root: OUT and the paths below are relative to it
export HF_HUB_OFFLINE=1
sha256sum out/labelled/choose.jsonl out/labelled/heldout.jsonl out/labelled/sealed.jsonl
date
test -e "out/banks/$candidate-heads/bank.json" ||
  .venv/bin/rosetta-filter domains configs/domains.yaml --set "out=out/banks/$candidate-heads"
date
test -z "${FIT_ONLY:-}" || exit 0
for bank in "$base" "$candidate"; do
  choice=()
  [ "$bank" = "$base" ] || choice=(--set "neurons.bank=out/banks/$candidate-heads")
  test -e "out/evaluation/$tag-$bank/evaluation.json" ||
    .venv/bin/rosetta-filter evaluate configs/demo.yaml --labels out/labelled/sealed.jsonl \
      "${choice[@]}" --set model.dtype=auto --cache out/cache/domains \
      --out "out/evaluation/$tag-$bank"
  date
done
families=()
for family in "$@"; do families+=(--family "$family"); done
.venv/bin/python -m bench.compare_evaluations "out/evaluation/$tag-$base" \
  "out/evaluation/$tag-$candidate" "${families[@]}" \
  --out "$out.json" --figure "$out.png"
date
