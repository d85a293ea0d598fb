# Rule 27 (RULE.md): the candidate offline-13's fit, then the fifteenth sealed set scored once
# by offline-12 and offline-13 and the paired comparison (docs/quality/refit-gate.sh). In the
# background (two cores with AMX: about 90 minutes of pooled pass from an empty cache, then
# about 40 minutes of fitting, then minutes of scoring):
#   nohup setsid nice -n 19 bash docs/quality/rule27-s29/run.sh > out/logs/s29-rule27.log 2>&1 &
# FIT_ONLY=1 stops after the fit. Needs the labelled corpus built (`rosetta-filter corpus build
# --config configs/labelled.yaml`: choose be45c33e…, heldout 01cc9e11…) and smollm2-135m pulled.
set -euo pipefail
exec bash "$(dirname "$0")/../refit-gate.sh" offline-12 offline-13 s29-sealed15 \
  docs/quality/rule27-s29/sealed15 \
  frama-c-acsl gnuplot-demos sklearn-user-guide r-model-vignettes
