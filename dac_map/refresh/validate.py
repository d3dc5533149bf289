"""Checks of a newly built store before it may replace the one being served.

Each check returns a :class:`Check`; :func:`validate` runs them all (so that the data steward
sees every problem at once). The checks:

* ``rows:etablissements`` / ``rows:equipements``: the row count is within ``row_tolerance``
  (a share) of the previous version's; equipment is compared when the previous version had
  some (a new version without equipment then fails);
* ``rows:territoire:<id>``: the same per DAC territory, with ``territory_row_tolerance``, for
  the territories that had at least ``territory_min_rows`` establishments;
* ``geolocated``: the share of establishments with an address-level position (``adresse``:
  a commune centroid does not count) is at least ``min_geolocated_share``;
* ``vanished``: compared by FINESS number with the served version, the establishments that
  disappeared are at most ``max_vanished_share`` of the served ones (the message names the first
  FINESS numbers, and the line of the new extract where each was rejected, when it was);
* ``positions``: of the establishments present in both versions with an address-level position
  in the served one, those that lost it (now at a commune centroid or without position) are at
  most ``max_positions_lost_share`` (same naming). Up to ``identity_min_count`` vanished
  establishments or lost positions are accepted whatever the share (small territories);
* ``territories``: every territory *in scope* has at least one establishment. The scope is
  ``territories_required``: ``"previous"`` (default) = the territories that had establishments
  in the previous version (with no previous version: at least one territory must be non-empty)
  — the shipped table has one DAC per department while an extract may cover only a few of them,
  so "every territory of the table" would refuse the demo; ``"all"`` = every territory of the
  table; a list of ids = those territories (they must exist in the table); ``"none"`` = no check;
* ``families``: with ``require_families``, no establishment category lacks a family (the ETL
  files them under "Autres"): update ``data/reference/categories_familles.csv`` first.

With no previous version, the comparisons are skipped (reported as passed, with a note).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from dac_map import store
from dac_map.errors import RowIssue
from dac_map.refresh.config import (
    TERRITORIES_ALL,
    TERRITORIES_NONE,
    TERRITORIES_PREVIOUS,
    ValidationSettings,
)

#: ``geo_precision`` of a position at the establishment's address (see :mod:`dac_map.etl.build`).
PRECISION_ADDRESS = "adresse"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class StoreFacts:
    """What the checks need to know about one version of the store."""

    establishments: int
    equipment_lines: int
    geolocated: int
    per_territory: dict[str, int]
    territories: tuple[str, ...]
    unknown_categories: dict[str, int]
    #: FINESS number -> ``geo_precision`` (``adresse``, ``commune``, ``aucune``).
    positions: dict[str, str] = field(default_factory=dict)


def store_facts(source: str | Path | store.Store) -> StoreFacts:
    """Read the :class:`StoreFacts` of one version of the store."""
    st = store.open_store(source)
    est = st.read_layer(store.ESTABLISHMENTS, columns=["finess", "dac_id", "geo_precision"],
                        read_geometry=False)
    meta = st.read_metadata()
    counts = meta.get("counts") if isinstance(meta.get("counts"), dict) else {}
    if st.has_layer(store.TERRITORIES):
        terr = st.read_layer(store.TERRITORIES, columns=["dac_id"], read_geometry=False)
        territories = tuple(str(t) for t in terr["dac_id"].dropna())
    else:
        territories = ()
    unknown = meta.get("unknown_categories")
    per = est["dac_id"].dropna().astype("str").value_counts()
    return StoreFacts(
        establishments=len(est),
        equipment_lines=int(counts.get("equipment_lines") or 0),
        geolocated=int((est["geo_precision"] == PRECISION_ADDRESS).sum()),
        per_territory={str(k): int(v) for k, v in per.sort_index().items()},
        territories=territories,
        unknown_categories=dict(unknown) if isinstance(unknown, dict) else {},
        positions=dict(zip(est["finess"].astype("str"), est["geo_precision"].fillna("aucune"))),
    )


def _within(new: int, old: int, tolerance: float) -> tuple[bool, float]:
    if old == 0:
        return True, 0.0
    change = (new - old) / old
    return abs(change) <= tolerance + 1e-12, change


def _where(finess: list[str], issues: list[RowIssue], limit: int = 10) -> str:
    """The first FINESS numbers, each with the line of the new extract where it was rejected."""
    lines: dict[str, int] = {}
    wanted = set(finess[:limit])
    for issue in issues:
        for f in wanted - set(lines):
            if f in issue.raw or f in issue.reason:
                lines[f] = issue.line
    parts = [f"{f} (ligne {lines[f]} rejetée)" if f in lines else f for f in finess[:limit]]
    return ", ".join(parts) + (" ..." if len(finess) > limit else "")


def _identity_checks(new: StoreFacts, previous: StoreFacts, settings: ValidationSettings,
                     issues: list[RowIssue]) -> list[Check]:
    """Vanished establishments and lost positions, by FINESS number."""
    old_ids, new_ids = previous.positions, new.positions
    vanished = sorted(f for f in old_ids if f not in new_ids)
    share = len(vanished) / len(old_ids) if old_ids else 0.0
    ok = share <= settings.max_vanished_share + 1e-12 or len(vanished) <= settings.identity_min_count
    checks = [Check("vanished", ok,
                    f"{len(vanished)} établissement(s) de la version servie absent(s) de la "
                    f"nouvelle ({share:.1%}, maximum {settings.max_vanished_share:.0%})"
                    + (f" : {_where(vanished, issues)}" if vanished else ""))]
    had = [f for f, p in old_ids.items() if p == PRECISION_ADDRESS and f in new_ids]
    lost = sorted(f for f in had if new_ids[f] != PRECISION_ADDRESS)
    share = len(lost) / len(had) if had else 0.0
    ok = share <= settings.max_positions_lost_share + 1e-12 or len(lost) <= settings.identity_min_count
    checks.append(Check(
        "positions", ok,
        f"{len(lost)} établissement(s) ont perdu leur position à l'adresse ({share:.1%} des "
        f"{len(had)} localisés, maximum {settings.max_positions_lost_share:.0%})"
        + (f" : {_where(lost, issues)}" if lost else "")))
    return checks


def validate(new: StoreFacts, previous: StoreFacts | None,
             settings: ValidationSettings, issues: list[RowIssue] | None = None) -> list[Check]:
    """Run every check of the new store against the previous one (``None``: first version).

    ``issues`` are the row problems of the ETL run that built ``new`` (to name the lines).
    """
    checks: list[Check] = []
    if previous is not None and previous.positions:
        checks += _identity_checks(new, previous, settings, issues or [])
    tol = settings.row_tolerance
    if previous is None:
        checks.append(Check("rows:etablissements", True,
                            f"{new.establishments} établissements (pas de version précédente : "
                            "tolérance non vérifiée)"))
    else:
        for name, n_new, n_old in (("etablissements", new.establishments, previous.establishments),
                                   ("equipements", new.equipment_lines, previous.equipment_lines)):
            if name == "equipements" and n_old == 0:
                continue
            ok, change = _within(n_new, n_old, tol)
            checks.append(Check(
                f"rows:{name}", ok,
                f"{n_new} lignes contre {n_old} dans la version précédente ({change:+.1%}, "
                f"tolérance ±{tol:.0%})" + ("" if ok else " : extrait incomplet ou d'un autre "
                                             "périmètre ? Vérifiez-le, ou relancez avec --force")))
        ttol = settings.territory_row_tolerance
        for dac_id, n_old in previous.per_territory.items():
            if n_old < settings.territory_min_rows:
                continue
            n_new = new.per_territory.get(dac_id, 0)
            ok, change = _within(n_new, n_old, ttol)
            if not ok:
                checks.append(Check(
                    f"rows:territoire:{dac_id}", False,
                    f"{n_new} établissements contre {n_old} ({change:+.1%}, tolérance ±{ttol:.0%})"))
        if not any(c.name.startswith("rows:territoire:") for c in checks):
            checks.append(Check("rows:territoires", True,
                                f"chaque territoire d'au moins {settings.territory_min_rows} "
                                f"établissements reste à ±{ttol:.0%}"))

    share = new.geolocated / new.establishments if new.establishments else 0.0
    ok = new.establishments > 0 and share >= settings.min_geolocated_share
    checks.append(Check("geolocated", ok,
                        f"{share:.1%} des établissements localisés à l'adresse ({new.geolocated} sur "
                        f"{new.establishments}), minimum {settings.min_geolocated_share:.0%}"))

    scope = settings.territories_required
    if scope != TERRITORIES_NONE:
        if isinstance(scope, tuple):
            unknown = [t for t in scope if t not in new.territories]
            wanted = [t for t in scope if t in new.territories]
        else:
            unknown = []
            if scope == TERRITORIES_ALL:
                wanted = list(new.territories)
            elif previous is not None:  # TERRITORIES_PREVIOUS
                # Territories removed from the table since are not required any more.
                wanted = [t for t, n in previous.per_territory.items()
                          if n > 0 and (t in new.territories or not new.territories)]
            else:
                wanted = []
        empty = [t for t in wanted if new.per_territory.get(t, 0) == 0]
        if scope == TERRITORIES_PREVIOUS and previous is None:
            ok = any(n > 0 for n in new.per_territory.values())
            message = ("au moins un territoire DAC a des établissements" if ok else
                       "aucun établissement n'est dans un territoire DAC : table des territoires "
                       "ou extrait erronés ?")
        else:
            ok = not empty and not unknown
            message = f"{len(wanted)} territoire(s) vérifié(s), tous non vides"
            if empty:
                message = (f"territoire(s) sans aucun établissement : {', '.join(empty[:20])}"
                           + (" ..." if len(empty) > 20 else ""))
            if unknown:
                message += f" ; absents de la table des territoires : {', '.join(unknown)}"
        checks.append(Check("territories", ok, message))

    if settings.require_families:
        unknown_cat = new.unknown_categories
        ok = not unknown_cat
        checks.append(Check(
            "families", ok,
            "chaque catégorie a une famille" if ok else
            "catégorie(s) sans famille (classées « Autres ») : "
            + ", ".join(f"{k} ({v})" for k, v in sorted(unknown_cat.items()))
            + " : complétez data/reference/categories_familles.csv"))
    return checks


def failed(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]
