"""Issue 10: "Autour de" on a store without commune outlines falls back to a commune point
(from the establishments' commune codes; Paris, Lyon, Marseille through their arrondissements)
or explains in plain French; points are written "lat, lon" in messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dac_map.query import Catalogue, search
from dac_map.query.errors import QueryError
from dac_map.query.near import resolve_near
from dac_map.query.spec import SearchSpec


def _haversine_km(lat1, lon1, lat2, lon2):
    r = 6371.0088
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * r * np.arcsin(np.sqrt(a))


@pytest.fixture(scope="module")
def bare(demo_catalogue) -> Catalogue:
    """The demo catalogue without commune outlines; three Amiens establishments moved to Paris
    arrondissements (codes and city only: their positions stay)."""
    d = demo_catalogue
    est = d.establishments.copy()
    amiens = est.index[est["commune"].astype(str) == "80021"][:3]
    est.loc[amiens, "commune"] = ["75113", "75113", "75120"]
    est.loc[amiens, "city"] = ["PARIS CEDEX 13", "PARIS", "PARIS"]
    return Catalogue.from_frames(est, equipment=d.equipment, territories=d.territories,
                                 communes=d.communes.iloc[0:0], departments=d.departments,
                                 families=d.families, categories=d.categories,
                                 disciplines=d.disciplines, metadata=d.metadata)


def test_commune_code_without_outline_uses_its_establishments(bare):
    spec = SearchSpec(near="80001", radius_km=5.0)  # Abbeville
    res = search(bare, spec.to_filters(bare), page_size=None)
    est = bare.establishments
    own = (est["commune"].astype(str) == "80001").to_numpy() & bare.has_point
    lat0, lon0 = np.median(bare.lat[own]), np.median(bare.lon[own])
    d = _haversine_km(lat0, lon0, bare.lat, bare.lon)
    inside = set(est["finess"][bare.has_point & (d <= 4.95)])
    outside = set(est["finess"][bare.has_point & (d > 5.05)])
    got = set(res.records["finess"])
    assert inside <= got and not (got & outside) and len(inside) > 5


@pytest.mark.parametrize("typed", ["75056", "Paris", "paris"])
def test_paris_through_its_arrondissements(bare, typed):
    near = resolve_near(typed, bare)
    assert near.commune == "75056"
    f = SearchSpec(near=typed, radius_km=2.0).to_filters(bare)
    res = search(bare, f, page_size=None)
    assert {"75113", "75120"} <= set(res.records["commune"].astype(str))
    assert any("75056" in lab for lab in res.labels)


def test_unknown_commune_is_explained_in_plain_french(bare):
    with pytest.raises(QueryError) as exc:
        search(bare, SearchSpec(near="33063", radius_km=5.0).to_filters(bare))  # Bordeaux
    msg = str(exc.value)
    assert "sans contour" in msg and "'33063'" in msg and "« lat, lon »" in msg
    warnings: list[str] = []
    SearchSpec(near="33063").to_filters(bare, warnings=warnings)
    assert warnings and "aucun établissement localisé" in warnings[0]


def test_points_are_lat_lon_in_messages(demo_catalogue):
    with pytest.raises(QueryError) as exc:
        resolve_near("95.5, 2.3", demo_catalogue)
    assert "lat, lon" in str(exc.value) and "lon, lat" not in str(exc.value)
    from dac_map.query.distance import DistanceFilter

    with pytest.raises(QueryError) as exc:
        DistanceFilter(5.0, point=(2.3, 95.5))
    assert "« 95.5, 2.3 » (lat, lon" in str(exc.value)
    f = DistanceFilter(5.0, point=(2.296, 49.894))
    assert "lat 49.89400, lon 2.29600" in f.describe(demo_catalogue)
    assert math.isclose(f.point[1], 49.894)
