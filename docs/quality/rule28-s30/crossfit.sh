# Rule 28's gate 1 (RULE.md): the candidate grid cross-fitted on the folds of the default's
# session-30 cross-fit. In the background (hours; a killed run resumes at its fold):
#   nohup setsid nice -n 19 bash docs/quality/rule28-s30/crossfit.sh > out/logs/s30-rule28-crossfit.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../../.."
bash docs/quality/crossfit-gate.sh out/crossfit/s30-default out/crossfit/s30-rule28 \
  docs/quality/rule28-s30/crossfit 'heads.strengths=[0.001,0.002,0.003,0.005,0.01,0.03,0.1,0.3,1.0]'
