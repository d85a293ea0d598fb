"""`rosetta-filter report`: one self-contained HTML file (figures inlined as base64 PNG) and a
JSON table of the numbers, from one or more discovery runs.

The page has the runs table, the scaling plots (count and fraction vs size with the power-law
fit and the null), the polarization plots, domain specialisation vs size, and per run and
domain the top Rosetta Neurons: AUROC, per-domain activation bars, partner neurons with r, and
top-activating snippets with the activating token highlighted.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from discovery.report import figures
from discovery.report.data import RunSummary, group_fits, load_runs, power_law, scaling_table
from discovery.report.scaling import PowerLawFit
from rosetta_filter.files import write_bytes_atomic, write_json_atomic

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
mark { background: #f9d56e; padding: 0 1px; }
code.snippet { display: block; white-space: pre-wrap; font-size: 0.9em; margin: 2px 0; }
img { max-width: 100%; }
.note { color: #555; font-size: 0.9em; }
"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _snippet(text: str) -> str:
    """Escape the snippet, then turn its ⟦token⟧ marks into <mark>."""
    escaped = html.escape(text)
    return escaped.replace("⟦", "<mark>").replace("⟧", "</mark>")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _runs_table(runs: Sequence[RunSummary]) -> str:
    head = (
        "anchor",
        "family",
        "parameters",
        "MLP neurons",
        "Rosetta",
        "fraction",
        "null",
        "consistent",
        "mean r",
        "partners",
        "spans",
    )
    rows = []
    for r in runs:
        cells = [
            html.escape(r.anchor),
            html.escape(r.family),
            f"{r.parameters / 1e6:,.0f}M",
            f"{r.neurons:,}",
            f"{r.rosetta:,}",
            f"{100 * r.fraction:.2f}%",
            "–" if r.rosetta_null is None else f"{r.rosetta_null:,}",
            f"{r.consistent:,}",
            _fmt(r.mean_r, 2),
            html.escape(", ".join(r.partners)),
            f"{r.spans:,}",
        ]
        rows.append(
            "<tr>"
            + "".join(
                f'<td class="num">{c}</td>' if i in (2, 3, 4, 5, 6, 7, 8, 10) else f"<td>{c}</td>"
                for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    header = "".join(f"<th>{h}</th>" for h in head)
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def _comparability_note(runs: Sequence[RunSummary]) -> str:
    """The paper's law is for one family against fixed partners; say when the runs mix."""
    families = {r.family for r in runs}
    partner_sets = {tuple(sorted(r.partners)) for r in runs}
    if len(families) <= 1 and len(partner_sets) <= 1:
        return ""
    return (
        '<p class="note">These runs mix anchor families '
        f"({html.escape(', '.join(sorted(families)))}) or partner sets "
        f"({len(partner_sets)} different): the fit pools unlike comparisons. The clean "
        "scaling comparison is one family at several sizes against the same partners.</p>"
    )


def _fit_sentence(label: str, fit: PowerLawFit) -> str:
    return (
        f"<li>{html.escape(label)}: Rosetta count ≈ {fit.prefactor:.3g} × parameters<sup>"
        f"{fit.exponent:.3f}</sup>, exponent {100 * fit.confidence:.0f}% interval "
        f"[{fit.ci_low:.3f}, {fit.ci_high:.3f}]</li>"
    )


def _fit_text(runs: Sequence[RunSummary]) -> str:
    fit = power_law(runs)
    if fit is None:
        return (
            '<p class="note">A power-law fit needs runs of at least two anchor sizes with '
            "a non-zero Rosetta count; these runs do not have that.</p>"
        )
    items = [_fit_sentence("all runs", fit)]
    items += [_fit_sentence(label, f) for label, f in group_fits(runs).items()]
    return (
        f"<p>Power-law fits (intervals: binomial bootstrap of the counts, {fit.n_boot} draws; "
        "an exponent below 1 is sublinear, the count grows slower than the model):</p>"
        f"<ul>{''.join(items)}</ul>"
    )


def _polarization_table(runs: Sequence[RunSummary]) -> str:
    metrics = figures.POLARIZATION_METRICS
    header = "<th>anchor</th>" + "".join(
        f"<th>{m}: median Rosetta / rest</th><th>P(Rosetta &gt; rest)</th>" for m in metrics
    )
    rows = []
    for r in runs:
        stats = r.polarization.get(r.anchor, {})
        cells = [f"<td>{html.escape(r.anchor)}</td>"]
        for metric in metrics:
            entry = stats.get(metric)
            if entry is None:
                cells.append("<td>–</td><td>–</td>")
                continue
            cells.append(
                f'<td class="num">{_fmt(entry["rosetta"]["median"])} / '
                f"{_fmt(entry['rest']['median'])}</td>"
                f'<td class="num">{_fmt(entry["p_rosetta_greater"])}</td>'
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def _domain_section(run: RunSummary, domain: str) -> str:
    neurons = run.top.get(domain, [])
    if not neurons:
        return f'<h4>{html.escape(domain)}</h4><p class="note">no Rosetta Neuron ranked.</p>'
    rows = []
    for n in neurons:
        partners = "<br>".join(
            f"{html.escape(p.model)} {html.escape(p.neuron)} (r {_fmt(p.r, 2)})" for p in n.partners
        )
        snippets = (
            "".join(
                f'<code class="snippet">{s["activation"]:.2f} · {_snippet(s["text"])}</code>'
                for s in n.snippets
            )
            or '<span class="note">no snippets</span>'
        )
        rows.append(
            f'<tr><td>{html.escape(n.neuron)}</td><td class="num">{n.auroc:.3f}</td>'
            f'<td class="num">{n.mean_r:.2f}</td><td>{partners}</td><td>{snippets}</td></tr>'
        )
    table = (
        "<table><tr><th>neuron</th><th>AUROC</th><th>mean r</th><th>partner neurons</th>"
        f"<th>top-activating snippets</th></tr>{''.join(rows)}</table>"
    )
    bars = _img(figures.domain_bars(neurons, run.domains, domain), f"{run.anchor} {domain} bars")
    return f"<h4>{html.escape(domain)}</h4>{bars}{table}"


def study_figures(runs: Sequence[RunSummary]) -> dict[str, tuple[str, bytes]]:
    """The study-level figures, ``file stem -> (caption, PNG)``: drawn once, then inlined in
    the page and also written as files so that docs can show them."""
    return {
        "rosetta_count_vs_size": ("Rosetta count vs size", figures.count_vs_size(runs)),
        "rosetta_fraction_vs_size": ("Rosetta fraction vs size", figures.fraction_vs_size(runs)),
        "polarization_boxes": ("polarization distributions", figures.polarization_boxes(runs)),
        "polarization_vs_size": ("polarization vs size", figures.polarization_vs_size(runs)),
        "specialisation_vs_size": ("specialisation vs size", figures.specialisation_vs_size(runs)),
    }


def render_report(
    runs: Sequence[RunSummary], figs: dict[str, tuple[str, bytes]] | None = None
) -> str:
    """The whole report as one HTML string (``figs`` from :func:`study_figures`, or drawn)."""
    figs = figs if figs is not None else study_figures(runs)

    def img(name: str) -> str:
        caption, png = figs[name]
        return _img(png, caption)

    parts = [
        '<!doctype html><html><head><meta charset="utf-8">',
        f"<title>Rosetta Neurons report</title><style>{_STYLE}</style></head><body>",
        "<h1>Rosetta Neurons report</h1>",
        '<h2 id="runs">Runs</h2>',
        _runs_table(runs),
        '<h2 id="scaling">Scaling</h2>',
        _fit_text(runs),
        _comparability_note(runs),
        img("rosetta_count_vs_size"),
        img("rosetta_fraction_vs_size"),
        '<h2 id="polarization">Polarization</h2>',
        _polarization_table(runs),
        img("polarization_boxes"),
        img("polarization_vs_size"),
        '<h2 id="specialisation">Domain specialisation</h2>',
        img("specialisation_vs_size"),
        '<h2 id="neurons">Top Rosetta Neurons per domain</h2>',
    ]
    for run in runs:
        parts.append(
            f"<h3>{html.escape(run.label)}: partners {html.escape(', '.join(run.partners))}</h3>"
        )
        parts.extend(_domain_section(run, domain) for domain in run.domains)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run_dirs: Sequence[Path | str], out_dir: Path | str) -> tuple[Path, Path]:
    """Write ``report.html``, ``scaling.json`` and ``figures/*.png`` under ``out_dir``, each
    atomically; the page stays self-contained, the PNGs are copies for documents."""
    runs = load_runs(run_dirs)
    out = Path(out_dir)
    figs = study_figures(runs)
    for name, (_, png) in figs.items():
        write_bytes_atomic(out / "figures" / f"{name}.png", png)
    page, table = out / "report.html", out / "scaling.json"
    write_bytes_atomic(page, render_report(runs, figs).encode("utf-8"))
    write_json_atomic(table, scaling_table(runs))
    return page, table
