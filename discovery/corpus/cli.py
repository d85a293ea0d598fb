"""`rosetta-filter corpus ...`: build a probe corpus, or draw a demo corpus from one.

Thin layer: parse options, merge them over an optional YAML config, call ``discovery.corpus.build``
(or ``discovery.corpus.labelled`` for a config with ``families``), print a summary. Defaults live
in :class:`~discovery.corpus.build.CorpusConfig` and
:class:`~discovery.corpus.labelled.LabelledCorpusConfig` only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import yaml
from pydantic import ValidationError

from discovery.corpus.build import (
    CorpusConfig,
    build_corpus,
    load_probe_corpus,
    make_demo,
    write_jsonl,
)
from discovery.corpus.labelled import LabelledCorpusConfig, build_labelled
from discovery.corpus.pool import PoolCorpusConfig, build_pool
from rosetta_filter.errors import RosettaError

# options that a labelled-corpus config (one with `families`) also takes
_LABELLED_OPTIONS = {"out_dir", "min_chars", "max_chars", "seed"}

app = typer.Typer(help="Build labelled multi-domain probe corpora.", no_args_is_help=True)


@app.command("build")
def build(
    config: Annotated[Path | None, typer.Option(help="YAML file of corpus settings")] = None,
    out: Annotated[Path | None, typer.Option(help="output directory")] = None,
    domains: Annotated[str | None, typer.Option(help="comma-separated, e.g. code,legal")] = None,
    docs_per_domain: Annotated[int | None, typer.Option(help="probe docs per domain")] = None,
    heldout_per_domain: Annotated[int | None, typer.Option(help="held-out docs/domain")] = None,
    heldout_fraction: Annotated[float | None, typer.Option(help="share held out")] = None,
    min_chars: Annotated[int | None, typer.Option(help="minimum document length")] = None,
    max_chars: Annotated[int | None, typer.Option(help="maximum document length")] = None,
    seed: Annotated[int | None, typer.Option(help="split/sampling seed")] = None,
    demo_docs: Annotated[int | None, typer.Option(help="docs in demo.jsonl (0: none)")] = None,
    parquet: Annotated[bool | None, typer.Option(help="also write corpus.parquet")] = None,
) -> None:
    """Fetch the pinned sources (cached) and write corpus.jsonl, demo.jsonl, provenance.json."""
    overrides = {
        "out_dir": out,
        "domains": domains.split(",") if domains else None,
        "docs_per_domain": docs_per_domain,
        "heldout_per_domain": heldout_per_domain,
        "heldout_fraction": heldout_fraction,
        "min_chars": min_chars,
        "max_chars": max_chars,
        "seed": seed,
        "demo_docs": demo_docs,
        "parquet": parquet,
    }
    with _user_errors():
        settings = yaml.safe_load(config.read_text()) if config else {}
        if not isinstance(settings, dict):
            raise typer.BadParameter(f"{config} must hold a mapping of corpus settings")
        given = {k: v for k, v in overrides.items() if v is not None}
        if "families" in settings:
            _build_labelled(settings, given)
            return
        if "pool" in settings:
            _build_pool(settings, given)
            return
        cfg = CorpusConfig.model_validate({**settings, **given})
        start = time.perf_counter()
        result = build_corpus(cfg)
        seconds = time.perf_counter() - start
    prov = result.provenance
    for split, per_domain in prov["counts"].items():
        for domain, entry in per_domain.items():
            typer.echo(
                f"{split:8s} {domain:10s} {entry['docs']:6d} docs {entry['chars']:10,d} chars"
            )
    typer.echo(
        f"total    {prov['total_docs']} docs, {prov['total_chars']:,} chars in {seconds:.1f} s"
    )
    for path in (result.corpus, result.demo, result.parquet, result.provenance_path):
        if path is not None:
            typer.echo(f"wrote {path}")


def _only_family_options(given: dict[str, object], kind: str) -> None:
    """Refuse options of the probe corpus for a corpus built from families."""
    unsupported = sorted(set(given) - _LABELLED_OPTIONS)
    if unsupported:
        options = ", ".join("--" + name.replace("_", "-") for name in unsupported)
        raise typer.BadParameter(f"{options}: not options of a {kind}")


def _build_pool(settings: dict[str, object], given: dict[str, object]) -> None:
    """Build the CPT study's pool and evaluation sets and print their counts."""
    _only_family_options(given, "pool corpus (it has pool)")
    cfg = PoolCorpusConfig.model_validate({**settings, **given})
    start = time.perf_counter()
    result = build_pool(cfg)
    seconds = time.perf_counter() - start
    for part, entry in result.manifest["parts"].items():
        typer.echo(f"{part:12s} {entry['docs']:6d} docs {entry['chars']:11,d} chars")
    shares = result.manifest["pool_domain_share_chars"]
    typer.echo("pool share   " + ", ".join(f"{d} {s:.1%}" for d, s in shares.items()))
    typer.echo(f"built in {seconds:.1f} s")
    for path in (*result.files.values(), result.manifest_path):
        typer.echo(f"wrote {path}")


def _build_labelled(settings: dict[str, object], given: dict[str, object]) -> None:
    """Build a family-labelled corpus and print its counts per role, domain and family."""
    _only_family_options(given, "labelled corpus (it has families)")
    cfg = LabelledCorpusConfig.model_validate({**settings, **given})
    start = time.perf_counter()
    result = build_labelled(cfg)
    seconds = time.perf_counter() - start
    for role, per_domain in result.manifest["counts"].items():
        for domain, entry in per_domain.items():
            typer.echo(
                f"{role:8s} {domain:10s} {entry['docs']:6d} docs {entry['chars']:10,d} chars  "
                + ", ".join(f"{name} {n}" for name, n in entry["families"].items())
            )
    total = sum(len(p.read_text(encoding="utf-8").splitlines()) for p in result.files.values())
    typer.echo(f"total    {total} docs in {seconds:.1f} s")
    for path in (*result.files.values(), result.manifest_path):
        typer.echo(f"wrote {path}")


@app.command("demo")
def demo(
    corpus: Annotated[Path, typer.Argument(help="corpus.jsonl or .parquet with a split column")],
    out: Annotated[Path, typer.Option(help="output .jsonl")],
    docs: Annotated[int, typer.Option(help="documents to draw")] = 300,
    seed: Annotated[int, typer.Option(help="sampling seed")] = 0,
) -> None:
    """Draw a mixed-domain demo corpus from the held-out documents of a built corpus."""
    with _user_errors():
        chosen = make_demo(load_probe_corpus(corpus, split="heldout"), docs, seed)
        write_jsonl(chosen, out)
    typer.echo(f"wrote {len(chosen)} held-out documents to {out}")


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the errors a user can cause into a one-line message and exit code 1."""
    try:
        yield
    except (RosettaError, ValidationError, OSError, yaml.YAMLError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
