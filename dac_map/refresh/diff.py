"""Change report between two versions of the store: what a coordinator should know.

:func:`compare_stores` compares the ``etablissements`` layers of two GeoPackages by FINESS
number and returns a :class:`ChangeReport`:

==============  =============================================================================
``opened``      in the new version only
``closed``      in the previous version only (gone from the FINESS extract)
``moved``       both geolocated, same metric CRS, further apart than the threshold (``x_m``/``y_m``)
``renamed``     ``name`` (FINESS ``rs``) changed
``category``    ``category`` (FINESS ``categetab``) changed
``phone``       ``phone`` changed (including added or removed)
``capacity``    ``capacity_installed`` or ``capacity_authorised`` changed; compared only when
                both versions were built with an equipment extract
==============  =============================================================================

One establishment can have several changes (one row each). Counts are given per change type,
per DAC territory (``dac_id``; :data:`NO_TERRITORY` when none) and per family.

Writers (:mod:`dac_map.refresh.reports`): Markdown, HTML (every value escaped), CSV (``;``,
UTF-8 with BOM, cells that a spreadsheet would run as a formula are prefixed with ``'``).
:func:`load_latest_changes` reads the ``changements`` layer a refresh stores in the GeoPackage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dac_map import store
from dac_map.errors import StoreError

#: Layer of the store holding the changes since the previous version.
CHANGES_LAYER = store.CHANGES

# FINESS+ activity changes (issue 11): see dac_map.finess_plus.changes
ACTIVITY_CHANGE_TYPES = ("activity_opened", "activity_closed", "zone_extended", "zone_reduced",
                         "activity_capacity")
CHANGE_TYPES = ("opened", "closed", "moved", "renamed", "category", "phone", "capacity", *ACTIVITY_CHANGE_TYPES)
CHANGE_LABELS = {
    "activity_opened": "Activité ouverte",
    "activity_closed": "Activité fermée",
    "zone_extended": "Zone d'intervention étendue",
    "zone_reduced": "Zone d'intervention réduite",
    "activity_capacity": "Capacité d'une activité modifiée",
    "opened": "Ouverture",
    "closed": "Fermeture",
    "moved": "Déplacement",
    "renamed": "Changement de nom",
    "category": "Changement de catégorie",
    "phone": "Changement de téléphone",
    "capacity": "Changement de capacité",
}
#: Key of the rows that belong to no DAC territory / to no family in the per-group counts.
NO_TERRITORY = "(hors territoire)"
NO_FAMILY = "(sans famille)"

#: Columns of the ``changements`` layer and of :meth:`ChangeReport.to_frame`.
COLUMNS = ("finess", "name", "change", "change_label", "before", "after", "distance_m",
           "dac_id", "family", "family_label")
#: French headers of the CSV report, in the order of :data:`COLUMNS`.
CSV_HEADER = ("finess", "nom", "changement", "libelle_changement", "avant", "apres",
              "distance_m", "dac_id", "famille", "libelle_famille")

_WANTED = ("finess", "name", "category", "category_label", "phone", "address", "postcode",
           "city", "x_m", "y_m", "epsg_m", "dac_id", "family", "family_label",
           "capacity_installed", "capacity_authorised")


@dataclass(frozen=True)
class VersionInfo:
    """Identity of one version of the store."""

    file: str
    version: str | None
    source_date: str | None
    etl_time: str | None
    establishments: int


@dataclass(frozen=True)
class Change:
    """One change of one establishment."""

    finess: str
    name: str | None
    change: str
    before: str | None
    after: str | None
    dac_id: str | None
    family: str | None
    family_label: str | None
    distance_m: int | None = None

    @property
    def change_label(self) -> str:
        return CHANGE_LABELS[self.change]


@dataclass(frozen=True)
class ChangeReport:
    """The changes between two versions, with their counts."""

    previous: VersionInfo | None
    current: VersionInfo
    moved_threshold_m: float
    capacity_compared: bool
    changes: tuple[Change, ...]
    #: Change type -> count, in :data:`CHANGE_TYPES` order: the establishment types always (zeros
    #: included), the FINESS+ activity types when at least one activity changed.
    counts: dict[str, int]
    #: DAC territory -> change type -> count (types with a count only).
    by_territory: dict[str, dict[str, int]]
    #: Family -> change type -> count (types with a count only).
    by_family: dict[str, dict[str, int]]
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> int:
        return len(self.changes)

    def to_frame(self) -> pd.DataFrame:
        """One row per change, :data:`COLUMNS`."""
        return changes_frame(self.changes)


def changes_frame(changes: tuple[Change, ...] | list[Change]) -> pd.DataFrame:
    text = {c: pd.Series([getattr(ch, c) if c != "change_label" else ch.change_label
                          for ch in changes], dtype="str")
            for c in COLUMNS if c != "distance_m"}
    frame = pd.DataFrame(text, columns=[c for c in COLUMNS if c != "distance_m"])
    frame.insert(COLUMNS.index("distance_m"), "distance_m",
                 pd.array([ch.distance_m for ch in changes], dtype="Int64"))
    return frame


# --------------------------------------------------------------------------- comparing

def _text(value) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    value = str(value).strip()
    return value or None


def _count(value) -> str:
    return "—" if value is None or pd.isna(value) else str(int(value))


def _place(row) -> str | None:
    town = " ".join(t for t in (_text(row.get("postcode")), _text(row.get("city"))) if t)
    parts = [t for t in (_text(row.get("address")), town) if t]
    return ", ".join(parts) or None


def _category(row) -> str | None:
    code, label = _text(row.get("category")), _text(row.get("category_label"))
    return " ".join(t for t in (code, label) if t) or None


def _summary(row) -> str | None:
    parts = [t for t in (_category(row), _place(row)) if t]
    return " — ".join(parts) or None


def _capacity(row) -> str:
    return (f"installées {_count(row.get('capacity_installed'))}, "
            f"autorisées {_count(row.get('capacity_authorised'))}")


def load_version(source: str | Path | store.Store) -> tuple[pd.DataFrame, VersionInfo, bool]:
    """The ``etablissements`` of a store (indexed by FINESS), its identity, and whether it
    was built with an equipment extract."""
    st = store.open_store(source)
    fields = st.fields(store.ESTABLISHMENTS)
    cols = [c for c in _WANTED if c in fields]
    frame = st.read_layer(store.ESTABLISHMENTS, columns=cols, read_geometry=False)
    for c in _WANTED:
        if c not in frame:
            frame[c] = pd.NA
    frame = frame.drop_duplicates("finess").set_index("finess", drop=False)
    meta = st.read_metadata()
    counts = meta.get("counts") if isinstance(meta.get("counts"), dict) else {}
    has_equipment = (bool(counts.get("equipment_lines")) or bool(meta.get("equipment_file"))
                     or bool(meta.get("finess_plus_activites_file")))  # FINESS+ capacities (issue 11)
    info = VersionInfo(
        file=Path(st.location).name,
        version=_text(meta.get("refresh_version")),
        source_date=_text(meta.get("source_date")),
        etl_time=_text(meta.get("etl_time")),
        establishments=len(frame),
    )
    return frame, info, has_equipment


def compare_frames(previous: pd.DataFrame, current: pd.DataFrame, moved_threshold_m: float,
                   capacity: bool = True) -> tuple[Change, ...]:
    """Changes between two ``etablissements`` tables indexed by FINESS number."""
    changes: list[Change] = []

    def add(row, kind: str, before, after, distance=None) -> None:
        changes.append(Change(
            finess=str(row["finess"]), name=_text(row.get("name")), change=kind,
            before=_text(before), after=_text(after), dac_id=_text(row.get("dac_id")),
            family=_text(row.get("family")), family_label=_text(row.get("family_label")),
            distance_m=distance))

    for fin in current.index.difference(previous.index):
        row = current.loc[fin]
        add(row, "opened", None, _summary(row))
    for fin in previous.index.difference(current.index):
        row = previous.loc[fin]
        add(row, "closed", _summary(row), None)

    common = current.index.intersection(previous.index)
    p = previous.loc[common]
    n = current.loc[common]

    def differs(col: str) -> np.ndarray:
        a = p[col].astype("str").fillna("").str.strip().to_numpy()
        b = n[col].astype("str").fillna("").str.strip().to_numpy()
        return a != b

    px = pd.to_numeric(p["x_m"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    py = pd.to_numeric(p["y_m"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    nx = pd.to_numeric(n["x_m"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    ny = pd.to_numeric(n["y_m"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    dist = np.hypot(nx - px, ny - py)
    same_crs = ~differs("epsg_m")
    moved = np.isfinite(dist) & same_crs & (dist > moved_threshold_m)
    masks = {
        "moved": moved,
        "renamed": differs("name"),
        "category": differs("category"),
        "phone": differs("phone"),
    }
    if capacity:
        cap = np.zeros(len(common), dtype=bool)
        for col in ("capacity_installed", "capacity_authorised"):
            a = pd.to_numeric(p[col], errors="coerce").fillna(-1).to_numpy()
            b = pd.to_numeric(n[col], errors="coerce").fillna(-1).to_numpy()
            cap |= a != b
        masks["capacity"] = cap
    for kind, mask in masks.items():
        for i in np.flatnonzero(mask):
            old, new = p.iloc[i], n.iloc[i]
            if kind == "moved":
                add(new, kind, _place(old), _place(new), int(round(float(dist[i]))))
            elif kind == "renamed":
                add(new, kind, old.get("name"), new.get("name"))
            elif kind == "category":
                add(new, kind, _category(old), _category(new))
            elif kind == "phone":
                add(new, kind, old.get("phone"), new.get("phone"))
            else:
                add(new, kind, _capacity(old), _capacity(new))
    order = {k: i for i, k in enumerate(CHANGE_TYPES)}
    changes.sort(key=lambda c: (order[c.change], c.dac_id or "", c.finess))
    return tuple(changes)


def _group_counts(changes: tuple[Change, ...], key) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for ch in changes:
        inner = out.setdefault(key(ch), {})
        inner[ch.change] = inner.get(ch.change, 0) + 1
    return {k: {t: out[k][t] for t in CHANGE_TYPES if t in out[k]} for k in sorted(out)}


def build_report(changes: tuple[Change, ...], previous: VersionInfo | None,
                 current: VersionInfo, moved_threshold_m: float, capacity_compared: bool,
                 notes: tuple[str, ...] = ()) -> ChangeReport:
    counts = {t: 0 for t in CHANGE_TYPES if t not in ACTIVITY_CHANGE_TYPES
              or any(c.change in ACTIVITY_CHANGE_TYPES for c in changes)}
    for ch in changes:
        counts[ch.change] += 1
    return ChangeReport(
        previous=previous, current=current, moved_threshold_m=float(moved_threshold_m),
        capacity_compared=capacity_compared, changes=changes, counts=counts,
        by_territory=_group_counts(changes, lambda c: c.dac_id or NO_TERRITORY),
        by_family=_group_counts(changes, lambda c: c.family or NO_FAMILY),
        notes=notes)


def compare_stores(previous: str | Path | None, current: str | Path,
                   moved_threshold_m: float = 100.0) -> ChangeReport:
    """Change report of ``current`` against ``previous`` (``None``: first version, no change)."""
    new, new_info, new_eq = load_version(current)
    if previous is None:
        return build_report((), None, new_info, moved_threshold_m, False,
                            ("Première version : pas de version précédente à comparer.",))
    old, old_info, old_eq = load_version(previous)
    notes: list[str] = []
    capacity = old_eq and new_eq
    if not capacity:
        notes.append("Capacités non comparées : l'une des deux versions a été construite sans "
                     "extrait des équipements (cs1100505).")
    changes = compare_frames(old, new, moved_threshold_m, capacity)
    changes = changes + _activity_changes(previous, current, old, new, notes)
    return build_report(changes, old_info, new_info, moved_threshold_m, capacity, tuple(notes))


def _activity_changes(previous: str | Path, current: str | Path, old: pd.DataFrame, new: pd.DataFrame,
                      notes: list[str]) -> tuple[Change, ...]:
    """FINESS+ activity, zone and capacity changes (issue 11), when both versions have them."""
    from dac_map.finess_plus.changes import compare_activities, has_activities

    if not (has_activities(previous) and has_activities(current)):
        if has_activities(current):
            notes.append("Activités FINESS+ non comparées : la version précédente n'en avait pas.")
        return ()
    out = []
    for ch in compare_activities(previous, current):
        row = new.loc[ch.finess] if ch.finess in new.index else (old.loc[ch.finess] if ch.finess in old.index
                                                                    else {"finess": ch.finess})
        out.append(Change(finess=ch.finess, name=_text(row.get("name")), change=ch.change, before=_text(ch.before),
                          after=_text(ch.after), dac_id=_text(row.get("dac_id")), family=_text(row.get("family")),
                          family_label=_text(row.get("family_label"))))
    return tuple(out)


# --------------------------------------------------------------------------- the store

def write_changes_layer(report: ChangeReport, target: str | Path | store.Store) -> None:
    """Add (or replace) the ``changements`` table of the store ``target``."""
    store.open_store(target).write_changes(report.to_frame())


def load_latest_changes(source: str | Path | store.Store | None) -> pd.DataFrame | None:
    """The changes stored by the last refresh (:data:`COLUMNS`), or ``None`` when the store
    has no ``changements`` layer (built by ``dac-map etl``/``demo``, or absent). An empty
    frame means a refresh found no change (or had no previous version)."""
    frame = store.open_store(source).read_changes()
    if frame is None:
        return None
    for c in COLUMNS:
        if c not in frame:
            frame[c] = pd.NA
    frame = frame[list(COLUMNS)].copy()
    frame["distance_m"] = pd.to_numeric(frame["distance_m"], errors="coerce").round().astype("Int64")
    return frame.reset_index(drop=True)


def load_change_summary(source: str | Path | store.Store | None) -> dict[str, object] | None:
    """What the last refresh recorded about its changes (metadata keys ``refresh_*``,
    ``previous_*``, ``changes_*``), or ``None`` when the store was not built by a refresh."""
    st = store.open_store(source)
    if not st.exists():
        return None
    try:
        meta = st.read_metadata()
    except StoreError:
        return None
    if "changes_counts" not in meta:
        return None
    keys = ("refresh_version", "refresh_time", "source_date", "previous_version",
            "previous_source_date", "changes_total", "changes_counts", "changes_by_territory",
            "changes_by_family", "changes_moved_threshold_m", "changes_capacity_compared",
            "changes_notes")
    return {k: meta.get(k) for k in keys}
