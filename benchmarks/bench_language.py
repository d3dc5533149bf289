"""Benchmark of issue 15's pieces on the demo data (Somme + Lot), in-process medians:

* « Je cherche »: :func:`dac_map.query.synonyms.best_match` over every term and variant of
  the synonyms table, against a fuzzy name search (:class:`~dac_map.query.TextFilter`) of the
  same words, the baseline a coordinator would otherwise use;
* the A4 sheet of 10 resources as PDF (:func:`dac_map.ui.exports.a4_sheet_pdf`) against the
  same sheet as HTML (what the PDF is made from);
* the ARS report (DAC-80, EHPAD family) as PDF against HTML.

Usage: ``.venv/bin/python benchmarks/bench_language.py [--runs 5]`` (builds the demo store
``data/build/dac_map.gpkg`` first with ``dac-map demo --if-missing``).
"""

from __future__ import annotations

import argparse

from dac_map import settings
from dac_map.testing.timing import median_seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from dac_map.coverage import ResourceType, build_report, read_population
    from dac_map.coverage.report_render import render_html, render_pdf
    from dac_map.query import TextFilter, load_catalogue, search
    from dac_map.query.synonyms import best_match, load_synonyms
    from dac_map.ui import exports

    cat = load_catalogue(settings.STORE_PATH)
    table = load_synonyms()
    said = [w for s in table for w in (s.term, *s.variants)]

    def synonyms() -> None:
        for w in said:
            best_match(w, table)

    def fuzzy() -> None:
        for w in said:
            search(cat, [TextFilter(w)], page_size=20)

    records = search(cat, [], page_size=10).records
    ctx = exports.SheetContext(title="Ressources sélectionnées", dac_name="DAC Somme")
    eq = exports.equipment_by_finess(cat.equipment, list(records["finess"]))
    rep = build_report(cat, "DAC-80", ResourceType.family("pa_hebergement"), 20.0,
                       read_population(settings.POPULATION_PATH), None, "/nonexistent/u.sqlite")
    rows = [
        ("je cherche: best_match, all words", median_seconds(synonyms, args.runs), len(said)),
        ("baseline: fuzzy name search, same words", median_seconds(fuzzy, args.runs), len(said)),
        ("A4 sheet PDF (10 resources)", median_seconds(lambda: exports.a4_sheet_pdf(records, ctx, eq), args.runs), 1),
        ("baseline: A4 sheet HTML", median_seconds(lambda: exports.a4_sheet_html(records, ctx, eq), args.runs), 1),
        ("ARS report PDF", median_seconds(lambda: render_pdf(rep), args.runs), 1),
        ("baseline: ARS report HTML", median_seconds(lambda: render_html(rep), args.runs), 1),
    ]
    for name, t, n in rows:
        print(f"{name:45s} median {t * 1000:9.1f} ms  ({t / n * 1000:.2f} ms per item)")
    print(f"ratio je cherche / fuzzy search: {rows[0][1] / rows[1][1]:.3f}")
    print(f"ratio sheet PDF / HTML: {rows[2][1] / rows[3][1]:.0f}; report PDF / HTML: {rows[4][1] / rows[5][1]:.0f}")


if __name__ == "__main__":
    main()
