"""The PostGIS store: the SERVED catalogue version behind the :class:`dac_map.store.Store`
interface (``open_store("postgresql://...")``). Geometries in EPSG:4326 (WGS84 degrees).

Reading means the served version (:mod:`dac_map.server.versions`); :meth:`PostGISStore.write`
and :meth:`PostGISStore.replace_with` publish a whole new version and switch to it atomically;
:meth:`PostGISStore.token` holds the switch serial, so caches keyed by it reload when any
process switches the version. :func:`load_served_catalogue` reads every layer in ONE snapshot.
"""

from __future__ import annotations

import dataclasses

import json
from collections.abc import Mapping, Sequence

import pandas as pd
from psycopg import sql

from dac_map.errors import StoreError
from dac_map.server import db, versions
from dac_map.store import METADATA, Store


class PostGISStore(Store):
    """The catalogue served from PostgreSQL/PostGIS at ``url``."""

    def __init__(self, url: str, actor: str = "dac-map") -> None:
        self.url = db.require_url(url)
        self.location = db.redact(self.url)
        self.actor = actor

    def exists(self) -> bool:
        """True when a version is served."""
        try:
            return versions.served_stamp(self.url)[0] is not None
        except StoreError:
            return False

    def token(self) -> tuple:
        """(location, served version, switch serial): changes at every switch."""
        return (self.location, *versions.served_stamp(self.url))

    def _spec(self) -> tuple[str, dict, dict]:
        with db.connect(self.url) as con:
            row = con.execute("SELECT c.schema_name, c.layers, c.metadata FROM "
                              "dac_map.served_version s JOIN dac_map.catalogue_versions c "
                              "USING (version)").fetchone()
        if row is None:
            raise StoreError("no catalogue version is served: run `dac-map db publish GPKG`",
                             path=self.location)
        return row[0], row[1], row[2]

    def layers(self) -> list[str]:
        """Layer names of the served version (``metadata`` included), [] when none."""
        if not self.exists():
            return []
        return [*self._spec()[1], METADATA]

    def fields(self, layer: str) -> dict[str, str]:
        """Column -> dtype name of ``layer`` (geometry excluded)."""
        spec = self._spec()[1].get(layer)
        if spec is None:
            raise StoreError(f"no layer '{layer}'", path=self.location)
        return {c: d for c, d in spec["columns"] if d != "geometry"}

    def read_layer(self, layer: str, *, columns: Sequence[str] | None = None,
                   read_geometry: bool = True) -> pd.DataFrame:
        """One layer of the served version (GeoDataFrame for spatial layers)."""
        if layer == METADATA:
            meta = self.read_metadata()
            return pd.DataFrame({"key": list(meta), "value": [
                v if isinstance(v, str) else json.dumps(v) for v in meta.values()]})
        served = versions.read_served(self.url, layers=[layer])
        if layer not in served.layers:
            raise StoreError(f"cannot read layer '{layer}': absent", path=self.location)
        frame = served.layers[layer]
        if columns is not None:
            keep = [c for c in frame.columns if c in columns or (read_geometry and c == "geometry")]
            frame = frame[keep]
        if not read_geometry and "geometry" in frame:
            frame = pd.DataFrame(frame.drop(columns="geometry"))
        return frame

    def read_metadata(self) -> dict[str, object]:
        """The served version's metadata."""
        return dict(self._spec()[2])

    def update_metadata(self, values: Mapping[str, object]) -> None:
        """Set metadata keys of the served version (others kept)."""
        with db.connect(self.url) as con:
            con.execute("UPDATE dac_map.catalogue_versions SET metadata = metadata || %s::jsonb "
                        "WHERE version = (SELECT version FROM dac_map.served_version)",
                        (json.dumps(dict(values), default=str),))

    def write_table(self, layer: str, frame: pd.DataFrame) -> None:
        """Add or replace one attribute table of the served version (e.g. ``changements``)."""
        with db.connect(self.url) as con:
            row = con.execute("SELECT s.version, c.schema_name FROM dac_map.served_version s "
                              "JOIN dac_map.catalogue_versions c USING (version) "
                              "FOR UPDATE OF c").fetchone()
            if row is None:
                raise StoreError("no catalogue version is served", path=self.location)
            version, schema = row
            con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, layer)))
            spec = versions._write_table(con, schema, layer, frame)
            con.execute("UPDATE dac_map.catalogue_versions SET layers = layers || "
                        "jsonb_build_object(%s::text, %s::jsonb) WHERE version = %s",
                        (layer, json.dumps(spec), version))

    def write(self, layers: Mapping[str, pd.DataFrame], metadata: Mapping[str, object]) -> None:
        """Publish a whole new version and serve it (atomic)."""
        versions.publish(layers, metadata, actor=self.actor, url=self.url)

    def replace_with(self, source: Store) -> None:
        """Publish the content of another store (e.g. a validated GeoPackage) and serve it."""
        layers = {name: source.read_layer(name) for name in source.layers() if name != METADATA}
        self.write(layers, source.read_metadata())


class _Snapshot(Store):
    """A read-only :class:`Store` over one :class:`~dac_map.server.versions.ServedCatalogue`
    (every layer read in ONE snapshot), so that the served catalogue loads through
    :func:`dac_map.query.load_catalogue` exactly like a GeoPackage (the stewards' territory
    overlay and the FINESS+ layers included). Frames are handed out as they are: a snapshot is
    used for one load."""

    def __init__(self, served: versions.ServedCatalogue, location: str) -> None:
        self.served = served
        self.location = f"{location}#{served.version}"

    def exists(self) -> bool:
        return True

    def keep_only(self, names: Sequence[str]) -> None:
        """Forget every layer but ``names`` (and the metadata): what the catalogue has prepared
        need not be held twice; the layers it reads on demand stay, from the same version."""
        self.served = dataclasses.replace(
            self.served, layers={k: v for k, v in self.served.layers.items() if k in names})

    def token(self) -> tuple:
        return (self.location, self.served.version, self.served.serial)

    def layers(self) -> list[str]:
        return [*self.served.layers, METADATA]

    def fields(self, layer: str) -> dict[str, str]:
        frame = self.served.layers[layer]
        return {c: str(t) for c, t in frame.dtypes.items() if c != "geometry"}

    def read_layer(self, layer: str, *, columns: Sequence[str] | None = None,
                   read_geometry: bool = True) -> pd.DataFrame:
        if layer not in self.served.layers:
            raise StoreError(f"cannot read layer '{layer}': absent", path=self.location)
        frame = self.served.layers[layer]
        if columns is not None:
            frame = frame[[c for c in frame.columns
                           if c in columns or (read_geometry and c == "geometry")]]
        if not read_geometry and "geometry" in frame:
            frame = pd.DataFrame(frame.drop(columns="geometry"))
        return frame

    def read_metadata(self) -> dict[str, object]:
        return dict(self.served.metadata)

    def _read_only(self, *args, **kwargs) -> None:
        raise StoreError("a served-version snapshot is read-only", path=self.location)

    write = update_metadata = write_table = replace_with = _read_only


#: Layers a served catalogue reads on demand from its own version (social resources, issue 16;
#: the communes give their names).
ON_DEMAND_LAYERS = ("ressources_sociales", "zones_ressources_sociales", "communes")


def load_served_catalogue(url: str | None = None):
    """The :class:`~dac_map.query.Catalogue` of the served version, every layer read in one
    consistent snapshot (a switch during the load cannot mix two versions), then loaded like
    a GeoPackage (:func:`dac_map.query.load_catalogue`: the stewards' current territories
    overlaid, FINESS+ layers)."""
    import logging
    import time

    from dac_map import store
    from dac_map.query import load_catalogue

    t0 = time.perf_counter()
    url = db.require_url(url)
    served = versions.read_served(url)
    if store.ESTABLISHMENTS not in served.layers:
        raise StoreError("served version has no establishments layer", path=db.redact(url))
    snapshot = _Snapshot(served, db.redact(url))
    catalogue = load_catalogue(snapshot)
    snapshot.keep_only(ON_DEMAND_LAYERS)  # the rest is in the catalogue now: free it
    logging.getLogger("dac_map.catalogue").info(
        "served catalogue loaded", extra={"event": "catalogue_loaded", "version": served.version,
                                          "ms": round((time.perf_counter() - t0) * 1000)})
    return catalogue
