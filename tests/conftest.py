"""Shared fixtures: the shipped Somme + Lot demo store, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from dac_map.cli import DEMO_COMMUNES, DEMO_DEPARTMENTS, DEMO_EQUIPMENT, DEMO_ESTABLISHMENTS
from dac_map.etl import EtlInputs, EtlReport, run_etl


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory) -> tuple[EtlReport, Path]:
    """ETL report and path of the demo GeoPackage (the data `make run` serves)."""
    out = tmp_path_factory.mktemp("demo") / "demo.gpkg"
    report = run_etl(EtlInputs(establishments=DEMO_ESTABLISHMENTS, departments=DEMO_DEPARTMENTS,
                               equipment=DEMO_EQUIPMENT, communes=list(DEMO_COMMUNES)), out)
    return report, out


@pytest.fixture(scope="session")
def demo_store(demo_build) -> Path:
    """Path of the demo GeoPackage; tests must not modify it."""
    return demo_build[1]


PRIVACY_CORPUS = Path(__file__).parent / "fixtures" / "privacy"


@pytest.fixture(scope="session")
def privacy_corpus() -> tuple[list[str], list[tuple[frozenset[str], str]]]:
    """The hand-labelled coordinator comments: (clean comments, [(kinds, identifying comment)])
    read from tests/fixtures/privacy/ (labels written by hand, never by the code)."""
    clean = [line for line in (PRIVACY_CORPUS / "corpus_clean.txt").read_text(encoding="utf-8")
             .splitlines() if line.strip() and not line.startswith("#")]
    identifying = []
    for n, line in enumerate((PRIVACY_CORPUS / "corpus_identifying.tsv").read_text(encoding="utf-8")
                             .splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        kinds, sep, text = line.partition("\t")
        assert sep and text.strip(), f"corpus_identifying.tsv line {n}: kinds<TAB>comment expected"
        identifying.append((frozenset(kinds.split(",")), text))
    return clean, identifying
