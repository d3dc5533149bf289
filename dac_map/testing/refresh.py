"""Test helpers for the refresh: a local HTTP server with misbehaving routes, and small FINESS
extracts written in the real etalab layouts.

:class:`LocalServer` (``with LocalServer() as srv:``) listens on 127.0.0.1 only, on a free
port. Routes are added with :meth:`LocalServer.route`; each has a ``mode``:

``full``        the body, with Content-Length and ``Accept-Ranges: bytes``; honours ``Range``
``drop_once``   the first request announces the full Content-Length but sends half the body
                and closes the connection; later requests behave like ``full`` (resume)
``truncated``   every request announces the full Content-Length and sends half (no ranges)
``fail_then``   ``fail_times`` answers with ``status`` (e.g. 503), then like ``full``
``status``      always ``status`` with the body
``drip``        the full Content-Length, then ``drip_bytes`` bytes every ``drip_interval_s``
                seconds (a slow-drip server); stops when the client hangs up

Every request is recorded in :attr:`LocalServer.requests` as ``(path, headers)``.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from dac_map.etl.layouts import EQUIPEMENTSOCIAL, GEOLOCALISATION, STRUCTUREET


@dataclass
class Route:
    body: bytes
    content_type: str = "text/csv; charset=ISO-8859-1"
    mode: str = "full"
    status: int = 200
    fail_times: int = 0
    hits: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    drip_bytes: int = 4
    drip_interval_s: float = 0.5


class _Handler(BaseHTTPRequestHandler):
    server_version = "dac-map-test/1"

    def log_message(self, *args) -> None:  # silence
        pass

    def do_GET(self) -> None:  # noqa: N802
        srv: LocalServer = self.server.owner  # type: ignore[attr-defined]
        with srv.lock:
            srv.requests.append((self.path, dict(self.headers.items())))
            route = srv.routes.get(self.path.split("?", 1)[0])
            if route is not None:
                route.hits += 1
                hit = route.hits
        if route is None:
            self._send(404, b"not found", "text/plain")
            return
        body = route.body
        if route.mode == "status" or (route.mode == "fail_then" and hit <= route.fail_times):
            self._send(route.status, body, route.content_type)
            return
        if route.mode == "drip":
            self.send_response(200)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for i in range(0, len(body), route.drip_bytes):
                    self.wfile.write(body[i:i + route.drip_bytes])
                    self.wfile.flush()
                    time.sleep(route.drip_interval_s)
            except OSError:  # the client gave up
                pass
            self.close_connection = True
            return
        if route.mode == "truncated" or (route.mode == "drop_once" and hit == 1):
            self.send_response(200)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(body)))
            if route.mode == "drop_once":
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", '"v1"')
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[len("bytes="):-1])
            if_range = self.headers.get("If-Range")
            if start < len(body) and (if_range is None or if_range == '"v1"'):
                self.send_response(206)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", '"v1"')
                self.end_headers()
                self.wfile.write(body[start:])
                return
        self._send(200, body, route.content_type, {"Accept-Ranges": "bytes", "ETag": '"v1"',
                                                   **route.headers})

    def _send(self, status: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 serving :class:`Route` objects."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.owner = self  # type: ignore[attr-defined]
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self) -> LocalServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def route(self, path: str, body: bytes, **kwargs) -> str:
        """Serve ``body`` at ``path`` (see the module doc for ``mode``); return its URL."""
        self.routes[path] = Route(body, **kwargs)
        return self.url(path)

    def url(self, path: str) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"


# --------------------------------------------------------------------------- extracts

@dataclass(frozen=True)
class Est:
    """One establishment of a test extract (FINESS field values; coordinates in Lambert-93)."""

    finess: str
    name: str
    category: str
    category_label: str
    departement: str
    commune: str
    town: str
    x: float | None
    y: float | None
    phone: str = ""
    number: str = "1"
    street: str = "DE LA GARE"
    ej: str = "800000000"


def extract_bytes(rows: list[Est], source_date: str = "2021-01-08", encoding: str = "latin-1"
                  ) -> bytes:
    """A cs1100507 extract (header, ``structureet`` lines, ``geolocalisation`` lines)."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(["finess", "etalab", "00", source_date])
    for r in rows:
        values = dict.fromkeys(STRUCTUREET.fields, "")
        values.update(nofinesset=r.finess, nofinessej=r.ej, rs=r.name, numvoie=r.number, typvoie="R",
                      voie=r.street, commune=r.commune, departement=r.departement,
                      ligneacheminement=r.town, telephone=r.phone, categetab=r.category,
                      libcategetab=r.category_label, dateouv="2001-02-03", datemaj="2020-05-06")
        w.writerow([STRUCTUREET.name, *(values[f] for f in STRUCTUREET.fields)])
    for r in rows:
        values = dict.fromkeys(GEOLOCALISATION.fields, "")
        values.update(nofinesset=r.finess,
                      coordxet="" if r.x is None else f"{r.x:.1f}",
                      coordyet="" if r.y is None else f"{r.y:.1f}",
                      sourcecoordet="1,ATLASANTE,100,IGN,BD_ADRESSE,V2.2,LAMBERT_93",
                      datemaj=source_date)
        w.writerow([GEOLOCALISATION.name, *(values[f] for f in GEOLOCALISATION.fields)])
    return buf.getvalue().encode(encoding)


def equipment_bytes(lines: list[tuple[str, str, int, int]], source_date: str = "2021-01-08",
                    encoding: str = "latin-1") -> bytes:
    """A cs1100505 extract from ``(finess, discipline, installed, authorised)`` tuples."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(["finess", "etalab", "00", source_date])
    for finess, de, installed, authorised in lines:
        values = dict.fromkeys(EQUIPEMENTSOCIAL.fields, "")
        values.update(nofinesset=finess, de=de, libde="Discipline de test", ta="11",
                      libta="Hébergement Complet Internat", client="711",
                      libclient="Personnes Agées dépendantes", sourceinfo="X",
                      libsourceinfo="Capacité fictive (test)", capinstot=str(installed),
                      indsupinst="N", capautot=str(authorised), indsupaut="N")
        w.writerow([EQUIPEMENTSOCIAL.name, *(values[f] for f in EQUIPEMENTSOCIAL.fields)])
    return buf.getvalue().encode(encoding)


def write_bytes(path: str | Path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def sample_rows(per_department: int) -> list[Est]:
    """``per_department`` EHPAD in the Somme (Amiens) and as many SSIAD in the Lot (Figeac),
    100 m apart, all geolocated."""
    rows = []
    for i in range(per_department):
        rows.append(Est(f"80{i:07d}", f"EHPAD SOMME {i}", "500",
                        "Etablissement d'hébergement pour personnes âgées dépendantes", "80", "021",
                        "80000 AMIENS", 649000.0 + i * 100, 6978000.0 + i * 50, "0322000000"))
        rows.append(Est(f"46{i:07d}", f"SSIAD LOT {i}", "354",
                        "Service de Soins Infirmiers A Domicile (S.S.I.A.D)", "46", "102",
                        "46100 FIGEAC", 623000.0 + i * 100, 6390000.0 + i * 50, "0565000000"))
    return rows


def write_departments(path: str | Path, codes: tuple[str, ...] = ("80", "46")) -> Path:
    """The outlines of a few departments, taken from the shipped ``departements.geojson``."""
    import pyogrio

    from dac_map import settings

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pyogrio.read_dataframe(settings.DATA_DIR / "geo" / "departements.geojson")
    pyogrio.write_dataframe(frame[frame["code"].isin(codes)], path, driver="GeoJSON")
    return path


def write_territories(path: str | Path, codes: tuple[str, ...] = ("80", "46")) -> Path:
    """A DAC territory table with one DAC per department code (``DAC-80``...)."""
    lines = ["id;nom;telephone;site_web;departements;communes"]
    lines += [f"DAC-{c};DAC test {c};;;{c};" for c in codes]
    return write_bytes(path, ("\n".join(lines) + "\n").encode("utf-8"))


def somme_equipment(rows: list[Est]) -> list[tuple[str, str, int, int]]:
    """Equipment lines of the Somme rows of ``rows``: discipline 924, 40 places installed, 45
    authorised (the ``lines`` of :func:`equipment_bytes`)."""
    return [(r.finess, "924", 40, 45) for r in rows if r.departement == "80"]


def write_sources(folder: str | Path, rows: list[Est],
                  equipment: list[tuple[str, str, int, int]] | None = None) -> Path:
    """The four sources of a refresh workspace under ``folder/src``: the extract of ``rows``,
    the equipment ``lines`` (default :func:`somme_equipment`), the Somme and Lot outlines and
    their DAC territories (the paths of :func:`refresh_config`). Returns ``folder``."""
    folder = Path(folder)
    write_bytes(folder / "src" / "establishments.csv", extract_bytes(rows))
    write_bytes(folder / "src" / "equipment.csv",
                equipment_bytes(somme_equipment(rows) if equipment is None else equipment))
    write_departments(folder / "src" / "departments.geojson")
    write_territories(folder / "src" / "territories.csv")
    return folder


def refresh_config(tail: str = "", retries: int = 1) -> str:
    """A refresh configuration (TOML) for a :func:`write_sources` workspace: its four sources,
    ``retries`` retries a millisecond apart, then ``tail`` (``[store]``, ``[validation]``,
    ``[network]`` tables...)."""
    return ('[sources]\nestablishments = "src/establishments.csv"\nequipment = "src/equipment.csv"\n'
            'departments = "src/departments.geojson"\nterritories = "src/territories.csv"\n\n'
            f"[download]\nretries = {retries}\nbackoff_s = 0.001\n\n{tail}")
