# Rule 26 (RULE.md): the candidate's fit, then the fourteenth sealed set scored once by each
# bank and the paired comparison. The pooled pass behind the fit is cached per shard of 512
# documents (out/cache/domains), so a killed run resumes at its last shard; the fit itself
# restarts. In the background (on two cores with AMX: about 90 minutes of pooled pass from an
# empty cache, then about an hour of fitting, then minutes of scoring):
#   nohup setsid nice -n 19 bash docs/quality/rule26-s28/run.sh > out/logs/s28-rule26.log 2>&1 &
# Needs the labelled corpus built (`rosetta-filter corpus build --config configs/labelled.yaml`:
# choose be45c33e…, heldout e898c3c0…, sealed 09ddfc07…) and smollm2-135m pulled.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export HF_HUB_OFFLINE=1
sha256sum out/labelled/choose.jsonl out/labelled/heldout.jsonl out/labelled/sealed.jsonl
date
test -e out/banks/offline-12-heads/bank.json ||
  .venv/bin/rosetta-filter domains configs/domains.yaml --set out=out/banks/offline-12-heads
date
for bank in offline-11 offline-12; do
  case $bank in
    offline-11) choice=() ;;
    offline-12) choice=(--set neurons.bank=out/banks/offline-12-heads) ;;
  esac
  test -e out/evaluation/s28-sealed14-$bank/evaluation.json ||
    .venv/bin/rosetta-filter evaluate configs/demo.yaml --labels out/labelled/sealed.jsonl \
      "${choice[@]}" --set model.dtype=auto --cache out/cache/domains \
      --out out/evaluation/s28-sealed14-$bank
  date
done
.venv/bin/python -m bench.compare_evaluations out/evaluation/s28-sealed14-offline-11 \
  out/evaluation/s28-sealed14-offline-12 --family freefem-scripts --family dealii-tutorials \
  --family minizinc-globals --family gretl-econometrics --family ppl-polyhedra-manual \
  --out docs/quality/rule26-s28/sealed14.json --figure docs/quality/rule26-s28/sealed14.png
date
