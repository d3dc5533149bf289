"""Privacy benchmark: recall per kind and false-positive rate of dac_map.privacy on the
hand-labelled corpus of coordinator comments (tests/fixtures/privacy/), plus the speed of the
check.

    .venv/bin/python benchmarks/bench_privacy.py [--show-errors]

Targets (issue 10): recall 100 % on NIR, dates, phones and e-mails, >= 95 % on names; at most
3 % of the clean comments refused. The labels are written by hand, never produced by the code.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--show-errors", action="store_true", help="print the misses and false alarms")
    args = ap.parse_args()
    t0 = time.perf_counter()
    from dac_map.privacy import KINDS, personal_data_kinds
    personal_data_kinds("Mme Dupont")  # loads the name lists
    import_s = time.perf_counter() - t0
    clean, identifying = load_corpus()
    print(f"Corpus: {len(clean)} clean comments, {len(identifying)} identifying comments "
          f"({len(clean) + len(identifying)} in all)")
    ok = True
    print(f"{'kind':<7}{'labelled':>10}{'detected':>10}{'recall':>9}{'target':>9}")
    for kind in KINDS:
        rows = [text for kinds, text in identifying if kind in kinds]
        hits = [text for text in rows if kind in personal_data_kinds(text)]
        recall = len(hits) / len(rows) if rows else 1.0
        ok &= recall >= TARGETS[kind]
        print(f"{kind:<7}{len(rows):>10}{len(hits):>10}{recall:>9.1%}{TARGETS[kind]:>9.0%}")
        if args.show_errors:
            for text in rows:
                if text not in hits:
                    print(f"   MISSED {kind}: {text}")
    refused = [(text, personal_data_kinds(text)) for text in clean]
    refused = [(text, k) for text, k in refused if k]
    rate = len(refused) / len(clean)
    ok &= rate <= MAX_FALSE_POSITIVE_RATE
    print(f"false positives on clean comments: {len(refused)}/{len(clean)} = {rate:.1%} "
          f"(target <= {MAX_FALSE_POSITIVE_RATE:.0%})")
    if args.show_errors:
        for text, k in refused:
            print(f"   FALSE ALARM {','.join(k)}: {text}")
    texts = clean + [t for _k, t in identifying]
    times = []
    for _ in range(5):
        t1 = time.perf_counter()
        for text in texts:
            personal_data_kinds(text)
        times.append((time.perf_counter() - t1) / len(texts))
    print(f"check speed: median {statistics.median(times) * 1e6:.0f} µs per comment "
          f"(5 runs of {len(texts)}); import + name lists {import_s * 1000:.0f} ms")
    print("TARGETS MET" if ok else "TARGETS NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
