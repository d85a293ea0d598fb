"""Service throughput against the batch engine, in one run on the same documents and config.

Contenders, alternated round by round (the machine is shared), medians reported:

  engine     ``Scorer.score(all documents)`` in this process: the `rosetta-filter run` path
             (read-ahead, length sort, packing under ``batching.batch_tokens``);
  serviceN   ``rosetta-filter serve`` in its own process (``service.server.serve``, uvicorn,
             one inference worker), N concurrent HTTP clients in this process, each posting
             ``--docs-per-request`` documents to /v1/score and the next request as soon as
             its answer arrives, until every document is scored.

Throughput counts the tokens scored (``n_tokens``, no padding, no special tokens), identical
for every contender (checked), over wall time from the first request to the last answer, so
HTTP, JSON, queueing and micro-batching costs are all charged to the service. Latency is per
request, client side. Scores are checked against the engine's.

The machine is shared: beside wall-clock throughput the benchmark reports tokens per CPU-second
(engine: this process; service: the server process plus this process's clients) and how many
cores other processes kept busy meanwhile, so a ratio skewed by a neighbour shows as such.
Run ``python -m bench.service --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path

import httpx

from bench.common import median, mixed_length_documents, rotated, timed
from rosetta_filter.config import validate_config
from rosetta_filter.scoring.scorer import Scorer
from service.config import ServeConfig

TARGET = 0.8  # service/engine throughput ratio
REPO = Path(__file__).resolve().parent.parent
_SERVER = (
    "import json, sys\n"
    "from rosetta_filter.config import validate_config\n"
    "from service.config import ServeConfig\n"
    "from service.server import serve\n"
    "serve(validate_config(json.loads(sys.argv[1]), ServeConfig))\n"
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--model", default="smollm2-135m", help="registry name, directory or .gguf")
    p.add_argument(
        "--neurons", default="L12.N1024,L21.N40", help="comma-separated L{layer}.N{index}"
    )
    p.add_argument("--docs", type=int, default=192, help="documents (50 to --doc-max tokens)")
    p.add_argument("--doc-max", type=int, default=512, help="longest document in tokens")
    p.add_argument("--docs-per-request", type=int, default=2)
    p.add_argument("--clients", default="16,32", help="concurrency levels, comma-separated")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads, both")
    p.add_argument("--max-tokens", type=int, default=512, help="scoring.max_tokens")
    p.add_argument("--batch-tokens", type=int, default=4096, help="batching.batch_tokens")
    p.add_argument("--microbatch-tokens", type=int, default=None, help="server.microbatch_tokens")
    p.add_argument("--rounds", type=int, default=2, help="alternating measurement rounds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny run for a smoke check")
    p.add_argument("--json", action="store_true", help="print machine-readable results only")
    args = p.parse_args(argv)
    if args.quick:
        args.docs, args.doc_max, args.rounds, args.clients = 32, 128, 1, "4,8"
    args.levels = [int(c) for c in args.clients.split(",")]
    return args


def serve_config(args: argparse.Namespace, port: int) -> ServeConfig:
    return validate_config(
        {
            "model": {"name": args.model, "threads": args.threads, "device": "cpu"},
            "neurons": {"explicit": args.neurons.split(",")},
            "scoring": {"max_tokens": args.max_tokens},
            "batching": {"batch_tokens": args.batch_tokens},
            "server": {
                "port": port,
                "microbatch_tokens": args.microbatch_tokens,
                "max_queue_docs": max(4096, args.docs),
                "request_timeout_s": 3600,
            },
        },
        ServeConfig,
    )


class ServerProcess:
    """``serve(cfg)`` in a child process, ready when /readyz says so; SIGTERM to stop."""

    def __init__(self, cfg: ServeConfig) -> None:
        self.url = f"http://127.0.0.1:{cfg.server.port}"
        self.log = Path(tempfile.mkdtemp(prefix="bench-service-")) / "server.log"
        env = os.environ | {"PYTHONPATH": str(REPO)}
        with self.log.open("wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _SERVER, cfg.model_dump_json()],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 300
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def metric_sums(self, family: str) -> tuple[float, float]:
        """(sum, count) of a histogram family."""
        lines = httpx.get(f"{self.url}/metrics").text.splitlines()
        value = {line.split()[0]: float(line.split()[1]) for line in lines if line[0] != "#"}
        return value[f"{family}_sum"], value[f"{family}_count"]

    def cpu_s(self) -> float:
        """CPU seconds the server process has used (user + system, all threads)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def drive(url: str, requests: list[list[str]], clients: int) -> dict:
    """``clients`` concurrent users working through ``requests``; tokens, wall, latencies."""
    todo = deque(enumerate(requests))
    answers: dict[int, list[dict]] = {}
    latencies: list[float] = []

    async def user() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=3600) as http:
            while todo:
                i, texts = todo.popleft()
                start = time.perf_counter()
                r = await http.post("/v1/score", json={"documents": [{"text": t} for t in texts]})
                latencies.append(time.perf_counter() - start)
                r.raise_for_status()
                answers[i] = r.json()["documents"]

    start = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(clients)))
    wall = time.perf_counter() - start
    docs = [d for i in range(len(requests)) for d in answers[i]]
    return {
        "wall_s": wall,
        "tokens": sum(d["n_tokens"] for d in docs),
        "scores": [d["score"] for d in docs],
        "latencies": latencies,
    }


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(args: argparse.Namespace) -> dict:
    cfg = serve_config(args, free_port())
    scorer = Scorer.from_config(cfg.model, cfg.neurons, cfg.scoring, cfg.batching)
    docs = mixed_length_documents(scorer.tokenizer, args.docs, max_tokens=args.doc_max, seed=0)
    step = args.docs_per_request
    requests = [docs[i : i + step] for i in range(0, len(docs), step)]
    server = ServerProcess(cfg)
    try:
        # Warm-up: first calls allocate and pick kernels on both sides.
        list(scorer.score(docs[:8]))
        asyncio.run(drive(server.url, requests[:4], 2))
        names = ["engine", *(f"service{c}" for c in args.levels)]
        rounds: list[dict] = []
        reference: list[float] = []
        for r in range(args.rounds):
            row = {}
            for name in rotated(names, r):
                if name == "engine":
                    scored, timing = timed(lambda: list(scorer.score(docs)))
                    reference = [d.score for d in scored]
                    row[name] = {
                        "wall_s": timing.wall_s,
                        "tokens": sum(d.n_tokens for d in scored),
                        "cpu_s": timing.own_cores * timing.wall_s,
                        "others_cores": timing.others_cores,
                    }
                else:
                    families = ("rosetta_filter_batch_requests", "rosetta_filter_batch_documents")
                    before = [server.metric_sums(f) for f in families]
                    server_cpu = server.cpu_s()
                    res, timing = timed(
                        lambda name=name: asyncio.run(drive(server.url, requests, int(name[7:])))
                    )
                    server_cpu = server.cpu_s() - server_cpu
                    after = [server.metric_sums(f) for f in families]
                    batches = after[0][1] - before[0][1]
                    others = timing.others_cores
                    row[name] = {
                        "wall_s": res["wall_s"],
                        "tokens": res["tokens"],
                        # server process + this process's HTTP clients
                        "cpu_s": server_cpu + timing.own_cores * timing.wall_s,
                        "others_cores": None
                        if others is None
                        else others - server_cpu / timing.wall_s,
                        "p50_s": percentile(res["latencies"], 0.5),
                        "p99_s": percentile(res["latencies"], 0.99),
                        "requests_per_batch": (after[0][0] - before[0][0]) / batches,
                        "docs_per_batch": (after[1][0] - before[1][0]) / batches,
                        "scores": res["scores"],
                    }
                row[name]["tokens_per_s"] = row[name]["tokens"] / row[name]["wall_s"]
                row[name]["tokens_per_cpu_s"] = row[name]["tokens"] / row[name]["cpu_s"]
            rounds.append(row)
        check = _check(rounds, reference)
    finally:
        server.stop()
    med = {
        name: {
            key: median([row[name][key] for row in rounds])
            for key in rounds[0][name]
            if key != "scores" and rounds[0][name][key] is not None
        }
        for name in names
    }
    ratios = {
        f"{n}/engine": med[n]["tokens_per_s"] / med["engine"]["tokens_per_s"] for n in names[1:]
    }
    cpu_ratios = {
        f"{n}/engine": med[n]["tokens_per_cpu_s"] / med["engine"]["tokens_per_cpu_s"]
        for n in names[1:]
    }
    return {
        "setup": {
            "model": args.model,
            "neurons": args.neurons,
            "threads": args.threads,
            "cpus": os.cpu_count(),
            "rounds": args.rounds,
            "docs": len(docs),
            "docs_per_request": step,
            "requests": len(requests),
            "scoring.max_tokens": args.max_tokens,
            "batching": cfg.batching.model_dump(),
            "server.microbatch_tokens": cfg.microbatch_tokens,
        },
        "median": med,
        "ratios": ratios,
        "cpu_efficiency_ratios": cpu_ratios,
        "targets": {k: {"target": TARGET, "met": v >= TARGET} for k, v in ratios.items()},
        "max_abs_score_diff": check,
        "loadavg_end": os.getloadavg(),
    }


def _check(rounds: list[dict], reference: list[float]) -> float:
    """Every contender scored the same tokens; largest score difference to the engine."""
    worst = 0.0
    for row in rounds:
        tokens = {v["tokens"] for v in row.values()}
        if len(tokens) != 1:
            raise RuntimeError(f"contenders scored different token counts: {tokens}")
        for value in row.values():
            for a, b in zip(value.get("scores", reference), reference, strict=True):
                worst = max(worst, abs(a - b))
    return worst


def report(res: dict) -> str:
    s, m = res["setup"], res["median"]
    lines = [
        f"model {s['model']} neurons {s['neurons']}, {s['threads']} threads of {s['cpus']} cpus, "
        f"{s['rounds']} rounds, medians",
        f"{s['docs']} documents ({m['engine']['tokens']:.0f} tokens scored) in {s['requests']} "
        f"requests of {s['docs_per_request']}; max_tokens {s['scoring.max_tokens']}, "
        f"batching {s['batching']}, microbatch_tokens {s['server.microbatch_tokens']}",
        "",
        f"{'contender':<10} {'tokens/s':>9} {'tok/cpu-s':>9} {'wall s':>7} {'others':>6} "
        f"{'p50 s':>7} {'p99 s':>7} {'req/batch':>9} {'docs/batch':>10}",
    ]
    for name, row in m.items():
        others = f"{row['others_cores']:>6.2f}" if "others_cores" in row else f"{'n/a':>6}"
        extra = (
            f"{row['p50_s']:>7.2f} {row['p99_s']:>7.2f} {row['requests_per_batch']:>9.1f} "
            f"{row['docs_per_batch']:>10.1f}"
            if "p50_s" in row
            else ""
        )
        lines.append(
            f"{name:<10} {row['tokens_per_s']:>9.0f} {row['tokens_per_cpu_s']:>9.0f} "
            f"{row['wall_s']:>7.1f} {others} {extra}".rstrip()
        )
    lines.append("(others: cores busy with other processes meanwhile)")
    lines.append("")
    for key, value in res["ratios"].items():
        met = "met" if res["targets"][key]["met"] else "MISSED"
        cpu = res["cpu_efficiency_ratios"][key]
        lines.append(
            f"{key:<18} {value:6.2f}  (target >= {TARGET}: {met}); per CPU-second {cpu:.2f}"
        )
    lines.append(f"max |service score - engine score| = {res['max_abs_score_diff']:.2e}")
    lines.append(f"load average at the end: {', '.join(f'{x:.1f}' for x in res['loadavg_end'])}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    res = measure(args)
    print(json.dumps(res, indent=2) if args.json else report(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
