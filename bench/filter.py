"""End-to-end cost of `rosetta-filter run` against the activation engine alone, and memory
flatness with corpus size.

Prints, measured in one run on the same documents: docs/s and tokens/s of (a) the scorer alone
(model + pooling, the floor) and (b) the whole run (source streaming, both passes, selection,
shards, manifest); the overhead of (b) over (a); and the peak RSS of the run at 1x and 10x the
corpus size (each in a fresh process), which should stay flat.

    python bench/filter.py --corpus out/corpus/demo.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rosetta_filter.config import validate_config
from rosetta_filter.filtering.pipeline import run
from rosetta_filter.scoring.scorer import Scorer


def make_config(corpus: Path, out: Path, args: argparse.Namespace) -> dict:
    return {
        "source": {"data_files": str(corpus), "id_field": "id"},
        "model": {"name": args.model, "threads": args.threads},
        "neurons": {"explicit": args.neurons.split(",")},
        "scoring": {"pooling": "mean", "max_tokens": args.max_tokens, "normalize": "none"},
        "selection": {"keep_fraction": 0.2},
        "output": {"dir": str(out), "write_rejected": True},
    }


def scale_corpus(corpus: Path, times: int, out: Path) -> Path:
    lines = corpus.read_text().splitlines()
    with out.open("w") as fh:
        for copy in range(times):
            for line in lines:
                record = json.loads(line)
                record["id"] = f"{record['id']}-{copy}"
                fh.write(json.dumps(record) + "\n")
    return out


def peak_rss_of_run(config: dict) -> float:
    """Peak RSS (MiB) of a fresh process running the config end to end."""
    code = (
        "import json, resource, sys\n"
        "from rosetta_filter.config import validate_config\n"
        "from rosetta_filter.filtering.pipeline import run\n"
        "run(validate_config(json.loads(sys.argv[1])))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(config)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("out/corpus/demo.jsonl"))
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument(
        "--neurons",
        default="L3.N100,L4.N7,L4.N900",
        help="comma-separated; early layers keep the bench short",
    )
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--scale", type=int, default=10, help="the large corpus is this x")
    args = parser.parse_args()
    texts = [json.loads(line)["text"] for line in args.corpus.read_text().splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = validate_config(make_config(args.corpus, tmp / "warm", args))
        scorer = Scorer.from_config(cfg.model, cfg.neurons, cfg.scoring, cfg.runtime)
        list(scorer.score(texts[:16]))  # warm-up
        rates = {}
        for label in ("engine", "run", "engine", "run"):  # alternate: the machine is noisy
            started = time.perf_counter()
            if label == "engine":
                tokens = sum(d.n_tokens for d in scorer.score(texts))
            else:
                out = tmp / f"run-{time.perf_counter_ns()}"
                result = run(validate_config(make_config(args.corpus, out, args)), scorer=scorer)
                tokens = result.stats.tokens_scored
            seconds = time.perf_counter() - started
            rates.setdefault(label, []).append((len(texts) / seconds, tokens / seconds))
        best = {k: max(v) for k, v in rates.items()}
        overhead = 1 - best["run"][0] / best["engine"][0]
        big = scale_corpus(args.corpus, args.scale, tmp / "big.jsonl")
        rss_1x = peak_rss_of_run(make_config(args.corpus, tmp / "rss1", args))
        rss_nx = peak_rss_of_run(make_config(big, tmp / "rssn", args))
    print(
        f"corpus: {args.corpus} ({len(texts)} docs), model {args.model}, "
        f"neurons {args.neurons}, max_tokens {args.max_tokens}, threads {args.threads}"
    )
    for label, (docs_s, tokens_s) in best.items():
        print(f"  {label:<7} {docs_s:8.1f} docs/s {tokens_s:10.1f} tokens/s")
    print(f"  overhead of run over the engine alone: {overhead:.1%} (target < 10%)")
    print(
        f"  peak RSS: {rss_1x:.0f} MiB at 1x, {rss_nx:.0f} MiB at {args.scale}x "
        f"(ratio {rss_nx / rss_1x:.2f}, flat = ~1)"
    )
    print(f"  this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
