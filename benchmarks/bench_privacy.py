"""Privacy benchmark: recall per kind and false-positive rate of dac_map.privacy on the
hand-labelled corpus of coordinator comments (tests/fixtures/privacy/), plus the speed of the
check.

    .venv/bin/python benchmarks/bench_privacy.py [--show-errors] [--baseline REV]

``--baseline REV`` also measures, in the same run, the detector that lived in
``dac_map/coverage/unmet.py`` at git revision REV (e.g. the commit before dac_map/privacy.py).

Targets (issue 10): recall 100 % on NIR, dates, phones and e-mails, >= 95 % on names; at most
3 % of the clean comments refused. The labels are written by hand, never produced by the code.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "privacy"
TARGETS = {"nir": 1.0, "date": 1.0, "phone": 1.0, "email": 1.0, "name": 0.95}
MAX_FALSE_POSITIVE_RATE = 0.03


def load_corpus() -> tuple[list[str], list[tuple[frozenset[str], str]]]:
    """(clean comments, [(kinds, identifying comment)])."""
    clean = [line for line in (CORPUS / "corpus_clean.txt").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    identifying = []
    for line in (CORPUS / "corpus_identifying.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kinds, text = line.split("\t", 1)
        identifying.append((frozenset(kinds.split(",")), text))
    return clean, identifying


def real_names() -> tuple[list[str], list[str]]:
    """Real establishment names (FINESS extract) and commune names shipped in data/."""
    import csv
    import json

    data = CORPUS.parent.parent.parent / "data"
    with open(data / "finess" / "RECONSTRUCTED_etalab-cs1100507-stock-20210108_dep80_dep46.csv",
              encoding="latin-1", newline="") as f:
        establishments = [row[3] for row in csv.reader(f, delimiter=";")
                          if row and row[0] == "structureet"]
    communes = [feat["properties"]["nom"] for name in ("communes-80-somme", "communes-46-lot")
                for feat in json.loads((data / "geo" / f"{name}.geojson").read_text("utf-8"))["features"]]
    return establishments, communes


def load_baseline(rev: str) -> Callable[[str], tuple[str, ...]]:
    """``detect_personal_data`` of dac_map/coverage/unmet.py at git revision ``rev``."""
    root = CORPUS.parent.parent.parent
    folder = Path(tempfile.mkdtemp(prefix="bench-privacy-"))

    def show(path: str) -> str:
        return subprocess.run(["git", "-C", str(root), "show", f"{rev}:{path}"], check=True,
                              capture_output=True, text=True).stdout

    (folder / "firstnames_baseline.py").write_text(show("dac_map/coverage/firstnames.py"))
    src = show("dac_map/coverage/unmet.py").replace(
        "from dac_map.coverage.firstnames import FIRST_NAMES",
        "from firstnames_baseline import FIRST_NAMES")
    (folder / "unmet_baseline.py").write_text(src)
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("unmet_baseline", folder / "unmet_baseline.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["unmet_baseline"] = module
    spec.loader.exec_module(module)
    return module.detect_personal_data


def measure(detect: Callable[[str], tuple[str, ...]], clean: list[str],
            identifying: list[tuple[frozenset[str], str]], show_errors: bool
            ) -> tuple[bool, float]:
    """Print recall per kind and false positives of ``detect``; return (targets met, median
    seconds per comment)."""
    from dac_map.privacy import KINDS

    ok = True
    print(f"{'kind':<7}{'labelled':>10}{'detected':>10}{'recall':>9}{'target':>9}")
    for kind in KINDS:
        rows = [text for kinds, text in identifying if kind in kinds]
        hits = [text for text in rows if kind in detect(text)]
        recall = len(hits) / len(rows) if rows else 1.0
        ok &= recall >= TARGETS[kind]
        print(f"{kind:<7}{len(rows):>10}{len(hits):>10}{recall:>9.1%}{TARGETS[kind]:>9.0%}")
        if show_errors:
            for text in rows:
                if text not in hits:
                    print(f"   MISSED {kind}: {text}")
    refused = [(text, detect(text)) for text in clean]
    refused = [(text, k) for text, k in refused if k]
    rate = len(refused) / len(clean)
    ok &= rate <= MAX_FALSE_POSITIVE_RATE
    print(f"false positives on clean comments: {len(refused)}/{len(clean)} = {rate:.1%} "
          f"(target <= {MAX_FALSE_POSITIVE_RATE:.0%})")
    if show_errors:
        for text, k in refused:
            print(f"   FALSE ALARM {','.join(k)}: {text}")
    stopped = sum(bool(detect(t)) for _k, t in identifying) / len(identifying)
    print(f"identifying comments refused (any kind): {stopped:.1%}")
    establishments, communes = real_names()
    est = sum(bool(detect(f"Pas de place à {n}")) for n in establishments)
    com = sum(bool(detect(f"{c} : aucun SSIAD")) for c in communes)
    print(f"real names flagged as people: {est}/{len(establishments)} establishments "
          f"({est / len(establishments):.1%}), {com}/{len(communes)} communes "
          f"({com / len(communes):.1%})")
    texts = clean + [t for _k, t in identifying]
    times = []
    for _ in range(5):
        t1 = time.perf_counter()
        for text in texts:
            detect(text)
        times.append((time.perf_counter() - t1) / len(texts))
    return ok, statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show-errors", action="store_true", help="print the misses and false alarms")
    ap.add_argument("--baseline", metavar="REV", help="also measure the detector of unmet.py at REV")
    args = ap.parse_args()
    t0 = time.perf_counter()
    from dac_map.privacy import personal_data_kinds
    personal_data_kinds("Mme Dupont")  # loads the name lists
    import_s = time.perf_counter() - t0
    clean, identifying = load_corpus()
    print(f"Corpus: {len(clean)} clean comments, {len(identifying)} identifying comments "
          f"({len(clean) + len(identifying)} in all)")
    print("\n== dac_map.privacy ==")
    ok, per_comment = measure(personal_data_kinds, clean, identifying, args.show_errors)
    print(f"check speed: median {per_comment * 1e6:.0f} µs per comment (5 runs); "
          f"import + name lists {import_s * 1000:.0f} ms")
    if args.baseline:
        print(f"\n== baseline: dac_map/coverage/unmet.py at {args.baseline} ==")
        _ok, base = measure(load_baseline(args.baseline), clean, identifying, args.show_errors)
        print(f"check speed: median {base * 1e6:.0f} µs per comment; new/baseline = "
              f"{per_comment / base:.1f}x")
    print("TARGETS MET" if ok else "TARGETS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
