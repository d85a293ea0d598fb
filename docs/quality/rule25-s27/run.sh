# Rule 25 (RULE.md), gate 1: the cross-fit of configs/domains.yaml with the candidate strength
# grid on the 59 held-out families, the folds of out/crossfit/s27-default (the default's
# cross-fit, `bash out/logs/s27-default-crossfit.sh`), then the paired comparison. The corpus is
# the 59-family build frozen in out/labelled-s27 (choose be45c33e, heldout d67a935b: the same
# bytes the default's cross-fit read), since out/labelled/heldout.jsonl grows as sealed sets are
# scored. Each fold's
# bank and scores are reused once written, so a killed run resumes at its fold. In the
# background (several hours on two cores: every strength that keeps at most 32 neurons is
# cross-validated, about five where the default's grid offers one):
#   nohup setsid nice -n 19 bash docs/quality/rule25-s27/run.sh > out/logs/s27-rule25.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../../.."
BASE=out/crossfit/s27-default
OUT=out/crossfit/s27-rule25
CONFIG=out/configs/domains-rule25.yaml
mkdir -p out/configs
.venv/bin/python - "$CONFIG" <<'PY'
import sys
from pathlib import Path

import yaml

cfg = yaml.safe_load(Path("configs/domains.yaml").read_text())
cfg["heads"]["strengths"] = [0.001, 0.002, 0.003, 0.005, 0.01, 0.03, 0.1, 0.3, 1.0]
cfg["out"] = "out/banks/rule25-heads"
cfg["labelled"]["path"] = ["out/labelled-s27/choose.jsonl", "out/labelled-s27/heldout.jsonl"]
Path(sys.argv[1]).write_text(yaml.safe_dump(cfg, sort_keys=False))
PY
sha256sum out/labelled-s27/choose.jsonl out/labelled-s27/heldout.jsonl
date
.venv/bin/python -m bench.crossfit "$CONFIG" configs/demo.yaml \
  --heldout out/labelled-s27/heldout.jsonl --folds 4 --cache out/cache/domains \
  --set model.dtype=auto --out $OUT
date
test -e $BASE/crossfit.json || { echo "the default's cross-fit ($BASE) has not finished"; exit 1; }
.venv/bin/python -c "import json, sys; f = [json.load(open(p))['folds'] for p in sys.argv[1:]]; \
  assert f[0] == f[1], 'different folds'; print('same folds')" $BASE/folds.json $OUT/folds.json
.venv/bin/python -m bench.compare_evaluations $BASE $OUT \
  --out docs/quality/rule25-s27/compare.json --figure docs/quality/rule25-s27/compare.png
date
