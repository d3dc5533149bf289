"""Worker processes for the server-mode tests and the load benchmark (never used by the app).

* :func:`territory_race`: one steward process that reads a territory, waits for its rival at a
  barrier, then saves its change (the two-process conflict test);
* :func:`write_needs_and_notes` and :func:`check_writes`: writer processes storing unmet needs
  and coordinators' notes into PostgreSQL as fast as they can (each write with a unique
  idempotency key, every tenth one submitted twice, as a retry), and the check that nothing
  acknowledged was lost and nothing was stored twice.

Workers are started with the ``spawn`` method (a fresh interpreter, its own connections), so
their arguments are plain values and multiprocessing primitives.
"""

from __future__ import annotations

import time
from typing import Any


def territory_race(location: str, subject: str, territory_id: str, commune: str, set_name: str,
                   barrier: Any, out: Any) -> None:
    """Read ``territory_id``, wait at ``barrier`` (both rivals have read the same version),
    save it with ``commune`` added; put ``(commune, "saved", version)`` or
    ``(commune, "conflict", communes of the stored version)`` or ``(commune, "error", text)``."""
    from dac_map.server import auth
    from dac_map.territories import ConflictError, open_store

    steward = auth.Principal(subject, frozenset({auth.DATA_STEWARD}), signed_in=True)
    store = open_store(location, seed=False, principal=steward)
    try:
        current = store.get(territory_id, set_name)
        barrier.wait(60)
        try:
            saved = store.save(current.territory.with_communes(add=[commune]), current.version,
                               subject, set_name=set_name)
        except ConflictError as exc:
            out.put((commune, "conflict", exc.current.territory.communes if exc.current else ()))
        else:
            out.put((commune, "saved", saved.version))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        out.put((commune, "error", f"{type(exc).__name__}: {exc}"))


def write_needs_and_notes(url: str, worker: int, go: Any, end: Any, finess: list[str],
                          out: Any, dac: str = "DAC-80") -> None:
    """Once ``go`` is set, write unmet needs and notes (alternately) until ``end.value`` (epoch
    seconds) as coordinator ``load-writer-<worker>`` of ``dac``; put ``(worker, done, errors)``
    where ``done`` lists ``(kind, key, id)`` of every acknowledged write."""
    from dac_map.notes import NoteInput, PostgresNoteStore
    from dac_map.server import auth
    from dac_map.server.unmet import UnmetLog

    go.wait()
    stop_at = end.value
    who = auth.Principal(f"load-writer-{worker}", frozenset({auth.COORDINATOR}),
                         frozenset({dac}), True)
    log, notes = UnmetLog(url), PostgresNoteStore(url)
    done, errors, k = [], [], 0
    while time.time() < stop_at:
        key = f"w{worker}-{k}"
        try:
            for _attempt in range(2 if k % 10 == 0 else 1):  # every tenth write is retried
                if k % 2:
                    row = notes.add(NoteInput(finess[k % len(finess)], dac,
                                              other=f"note de charge {key}"), who, client_key=key)
                else:
                    row = log.record(who, dac, "80021", {"family": "pa_hebergement"},
                                     "Personnes âgées", f"besoin de charge {key}", client_key=key)
            done.append(("note" if k % 2 else "need", key, row.id))
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            errors.append(f"{key}: {type(exc).__name__}: {exc}")
        k += 1
    out.put((worker, done, errors))


def check_writes(url: str, results: list) -> dict[str, int]:
    """Compare the writers' acknowledgements (``results`` of :func:`write_needs_and_notes`) with
    the database, read independently: ``lost`` (acknowledged, absent or another id),
    ``duplicated`` (a key or a text stored twice), ``stored_not_acknowledged``."""
    import psycopg

    acked = {(kind, key): rid for _, done, _ in results for kind, key, rid in done}
    with psycopg.connect(url) as con:
        needs = con.execute("SELECT client_key, id, comment FROM dac_map.unmet_needs "
                            "WHERE client_key IS NOT NULL").fetchall()
        notes = con.execute("SELECT client_key, id, other FROM dac_map.notes "
                            "WHERE client_key IS NOT NULL").fetchall()
    stored = {("need", k): (i, c) for k, i, c in needs} | {("note", k): (i, c) for k, i, c in notes}
    lost = sum(1 for k, rid in acked.items() if k not in stored or stored[k][0] != rid)
    texts = [c for _, c in stored.values()]
    duplicated = (len(needs) + len(notes) - len(set(stored))) + (len(texts) - len(set(texts)))
    unacked = len(set(stored) - set(acked))  # stored but never acknowledged (a write cut short)
    return {"acknowledged": len(acked), "stored": len(stored), "lost": lost,
            "duplicated": duplicated, "stored_not_acknowledged": unacked,
            "needs": len(needs), "notes": len(notes)}


# --------------------------------------------------------------------------- diagnosis helpers

#: The map iframe's state (``window.dacMap`` of :mod:`dac_map.ui.leaflet`): mode, markers drawn
#: and the payload version (a new version = the map redrawn for a new filter).
MAP_STATE_JS = ("() => window.dacMap ? {mode: window.dacMap.mode, markers: window.dacMap.markers, "
                "version: window.dacMap.version} : null")

#: What the main page shows when a session is stuck: the chosen family tags, Streamlit's status
#: widget ("Running...") and connection banners, stale elements, exceptions.
PAGE_SNAPSHOT_JS = """() => {
  const txt = (sel) => Array.from(document.querySelectorAll(sel)).map(e => e.innerText.trim());
  return {
    tags: txt("[data-testid='stMultiSelect'] [data-tag]"),
    status: txt("[data-testid='stStatusWidget']").join(" | "),
    connection: txt("[data-testid='stConnectionStatus']").join(" | "),
    stale: document.querySelectorAll("[data-stale='true']").length,
    exceptions: txt("[data-testid='stException']").map(t => t.slice(0, 300)),
    map_frames: document.querySelectorAll("iframe[title='streamlit_folium.st_folium']").length,
    skeletons: document.querySelectorAll("[data-testid='stSkeleton']").length,
  };
}"""


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, seconds) used so far by process ``pid``; 0 once it is gone."""
    import os

    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def pids_named(name: str) -> list[int]:
    """Processes whose command name (``/proc/PID/comm``) is ``name``."""
    import os

    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm", encoding="utf-8") as f:
                    if f.read().strip() == name:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def quantile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile, linearly interpolated (the median of two values is their mean)."""
    if not values:
        return None
    s = sorted(values)
    x = q * (len(s) - 1)
    lo = int(x)
    hi = min(lo + 1, len(s) - 1)
    return round(s[lo] + (s[hi] - s[lo]) * (x - lo), 1)


def app_log_figures(path: Any, since: float = 0.0) -> dict[str, Any]:
    """Figures from an app process's JSON log (``DAC_MAP_LOG_FORMAT=json``,
    ``DAC_MAP_LOG_LEVEL=debug``) for lines at or after ``since`` (epoch seconds): script runs
    completed / interrupted with p50/p95 duration (ms), catalogue loads (cache misses),
    PostgreSQL connections opened, error lines (first five) and tracebacks."""
    import json
    from datetime import datetime
    from pathlib import Path

    runs, interrupted, loads, connects, errors = [], 0, 0, 0, []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        if "Traceback" in line:
            errors.append(line[:300])
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
            at = datetime.fromisoformat(rec["ts"]).timestamp()
        except (ValueError, KeyError):
            continue
        if at < since:
            continue
        event = rec.get("event")
        if event == "page_run":
            if rec.get("completed"):
                runs.append(float(rec["ms"]))
            else:
                interrupted += 1
        elif event == "catalogue_loaded":
            loads += 1
        elif event == "db_connect":
            connects += 1
        if rec.get("level") in ("error", "critical"):
            errors.append(line[:300])
    return {"runs_completed": len(runs), "runs_interrupted": interrupted,
            "run_p50_ms": quantile(runs, 0.5), "run_p95_ms": quantile(runs, 0.95),
            "catalogue_loads": loads, "db_connections": connects, "errors": errors[:5],
            "error_count": len(errors)}
