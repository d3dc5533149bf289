"""Fetch one source (URL or local path) to disk, completely and checked, or not at all.

:func:`fetch` streams a URL to ``<dest>.part`` (with a rich progress bar when asked), resumes
after a dropped connection with an HTTP ``Range`` request (guarded by ``If-Range`` with the
ETag/Last-Modified of the first response), retries network failures and 5xx/429 answers with
exponential backoff, checks the size against ``Content-Length``, refuses HTML pages (by
``Content-Type`` and by content) and files of another format, checks the FINESS header line
``finess;etalab;NN;YYYY-MM-DD`` of FINESS sources, and only then renames the file over
``dest`` with :func:`os.replace`. Until that rename, ``dest`` (the last good file) is never
touched. A local path is copied and checked the same way.

Errors: :class:`~dac_map.errors.InputMissingError` (exit code 3) when the file cannot be
obtained (HTTP 404, network down, still incomplete after the retries), and
:class:`~dac_map.errors.InputFormatError` (exit code 4) when it is obtained but is not what
was expected (HTML page, ZIP, another CSV, truncated local file...).

Slow servers: every source has a total deadline (``deadline_s``, attempts and waits included;
the socket timeout never exceeds what is left) and a minimum throughput (``min_bytes_per_s``
averaged over ``rate_window_s``): a server dripping a few bytes per second is abandoned instead
of holding the refresh lock for hours (:class:`~dac_map.errors.InputMissingError`).

When a download fails after its retries and the server accepts ranges, ``<dest>.part`` and
``<dest>.part.json`` (the URL and validators) stay, so that the next run resumes it.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

import pyogrio

from dac_map.errors import DacMapError, InputFormatError, InputMissingError
from dac_map.etl.parser import decode_bytes
from dac_map.files import sha256_file, unlink_quietly
from dac_map.refresh.config import (
    KIND_BOUNDARIES,
    KIND_FINESS_EQUIPMENT,
    KIND_FINESS_ESTABLISHMENTS,
    KIND_DATA_INCLUSION,
    KIND_FINESS_PLUS_ACTIVITES,
    KIND_FINESS_PLUS_STRUCTURES,
    KIND_TABLE,
    DownloadSettings,
    Source,
)
from dac_map.store.geopackage import GDAL_ERRORS

#: The first line of every FINESS etalab extract.
FINESS_HEADER = re.compile(r"finess;etalab;[0-9]+;[0-9]{4}-[0-9]{2}-[0-9]{2};*")
#: Line types allowed on the first data line of each FINESS kind.
FINESS_FIRST_SECTIONS = {
    KIND_FINESS_ESTABLISHMENTS: ("structureet",),
    KIND_FINESS_EQUIPMENT: ("equipementsocial", "structureet"),
}
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<?xml", b"<!--")
_CHUNK = 1 << 16
_HEAD = 1 << 16

Say = Callable[[str], None]


@dataclass(frozen=True)
class Fetched:
    """A source fetched and checked: where it is now and what it is."""

    name: str
    location: str
    path: Path
    size: int
    sha256: str
    content_type: str | None = None
    attempts: int = 1
    resumed: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"location": self.location, "file": self.path.name, "bytes": self.size,
                "sha256": self.sha256, "attempts": self.attempts, "resumed": self.resumed}


class _Retry(Exception):
    """A transient failure: try again (resuming when possible)."""


# --------------------------------------------------------------------------- content checks

def _gunzip_head(head: bytes) -> bytes:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, _HEAD)
    except zlib.error:
        return b""


def check_head(kind: str, head: bytes, where: str, name: str) -> None:
    """Refuse at once a file whose first bytes show it is not a ``kind`` source.

    ``head`` is the beginning of the file (up to 64 KiB, possibly cut mid-line).
    """
    if not head.strip():
        raise InputFormatError(f"{name}: empty file", path=where)
    start = head.lstrip()[:32].lower()
    if start.startswith(_HTML_STARTS):
        raise InputFormatError(f"{name}: this is an HTML/XML page, not the expected file "
                               "(an error or login page served instead of the data?)",
                               path=where, line=1)
    if kind == KIND_BOUNDARIES:
        return  # GeoJSON, GeoPackage, zipped Shapefile...: checked by GDAL once complete
    if head[:2] == b"\x1f\x8b":
        head = _gunzip_head(head)
    if kind in (KIND_FINESS_PLUS_STRUCTURES, KIND_FINESS_PLUS_ACTIVITES):  # FINESS+ JSON (issue 11)
        if head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] != b"{":
            raise InputFormatError(f"{name}: not a FINESS+ JSON flow (it does not start with '{{')",
                                   path=where, line=1)
        return
    # Cut at the last line break so that decoding never stops mid-character.
    cut = head.rfind(b"\n")
    sample = head[:cut + 1] if cut > 0 else head
    text, _ = decode_bytes(sample, where)  # refuses ZIP, UTF-16, binary, HTML
    first = text.split("\n", 1)[0].strip("\r").lstrip("\ufeff")
    if kind in FINESS_FIRST_SECTIONS:
        if not FINESS_HEADER.fullmatch(first.strip()):
            raise InputFormatError(
                f"{name}: first line is {first[:60]!r}, not the FINESS header "
                "'finess;etalab;NN;YYYY-MM-DD': not a raw FINESS etalab extract",
                path=where, line=1)
        lines = text.split("\n")
        if len(lines) >= 3:  # the second line is complete
            tag = lines[1].split(";", 1)[0].strip().lower()
            if tag and tag not in FINESS_FIRST_SECTIONS[kind]:
                expected = " or ".join(repr(s) for s in FINESS_FIRST_SECTIONS[kind])
                raise InputFormatError(
                    f"{name}: second line starts with {tag[:40]!r}, expected {expected}: "
                    "another FINESS extract than the one configured?", path=where, line=2)
    elif kind == KIND_TABLE and ";" not in first:
        raise InputFormatError(f"{name}: first line {first[:60]!r} has no ';': "
                               "not a ';'-separated table", path=where, line=1)
    elif kind == KIND_DATA_INCLUSION and not (first.lstrip()[:1] in ("[", "{") or "id" in first):
        raise InputFormatError(f"{name}: starts with {first[:60]!r}: neither JSON nor a CSV header "
                               "with an 'id' column: not a data·inclusion file", path=where, line=1)


def validate_file(kind: str, path: Path, where: str, name: str, min_bytes: int = 0) -> None:
    """Check a complete file of ``kind``; raise :class:`InputFormatError` if it is not one.

    ``min_bytes`` applies to the FINESS extracts only.
    """
    size = path.stat().st_size
    if kind in FINESS_FIRST_SECTIONS and size < min_bytes:
        raise InputFormatError(f"{name}: {size} bytes, fewer than the minimum {min_bytes}: "
                               "empty or truncated file", path=where)
    with open(path, "rb") as f:
        head = f.read(_HEAD)
    check_head(kind, head, where, name)
    if kind in FINESS_FIRST_SECTIONS:
        _check_finess_body(path, head, where, name)
    elif kind == KIND_BOUNDARIES:
        try:
            info = pyogrio.read_info(path)
        except GDAL_ERRORS as exc:
            raise InputFormatError(f"{name}: not a boundary file GDAL can read "
                                   f"(GeoJSON, GeoPackage, zipped Shapefile): {exc}",
                                   path=where) from exc
        if not info.get("features"):
            raise InputFormatError(f"{name}: the boundary file has no feature", path=where)
    elif kind in (KIND_FINESS_PLUS_STRUCTURES, KIND_FINESS_PLUS_ACTIVITES):  # FINESS+ (issue 11)
        from dac_map.finess_plus.source import ACTIVITES, STRUCTURES, sniff_flow

        sniff_flow(path, STRUCTURES if kind == KIND_FINESS_PLUS_STRUCTURES else ACTIVITES)
    elif kind == KIND_TABLE:
        text, _ = decode_bytes(path.read_bytes(), where)
        if len([ln for ln in text.splitlines() if ln.strip()]) < 2:
            raise InputFormatError(f"{name}: a header and no row", path=where)


def _check_finess_body(path: Path, head: bytes, where: str, name: str) -> None:
    """A FINESS extract has a data line after its header and ends with a line break."""
    if head[:2] == b"\x1f\x8b":
        sample = _gunzip_head(head)
        last = b""
        try:
            with gzip.open(path, "rb") as g:  # reads it all: checks the CRC and the length
                for block in iter(lambda: g.read(_CHUNK), b""):
                    last = block
        except (OSError, EOFError, zlib.error) as exc:
            raise InputFormatError(f"{name}: truncated or corrupt gzip file: {exc}",
                                   path=where) from exc
    else:
        sample = head
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - 1))
            last = f.read(1)
    lines = sample.split(b"\n")
    if not any(line.strip() for line in lines[1:]):
        raise InputFormatError(f"{name}: the FINESS header and no data line", path=where, line=2)
    if not last.endswith(b"\n"):
        raise InputFormatError(f"{name}: the file does not end with a line break: "
                               "truncated extract?", path=where)


# --------------------------------------------------------------------------- progress

class _Bar:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.progress = None
        if enabled:
            from rich.console import Console
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                       TimeRemainingColumn, TransferSpeedColumn)
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                     DownloadColumn(), TransferSpeedColumn(),
                                     TimeRemainingColumn(), console=Console(stderr=True))
            self.progress.start()
            self.task = self.progress.add_task(label, total=None)

    def update(self, completed: int, total: int | None) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=completed, total=total)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


# --------------------------------------------------------------------------- HTTP

def _state_path(part: Path) -> Path:
    return part.with_name(part.name + ".json")


def _read_state(part: Path, url: str) -> dict:
    try:
        state = json.loads(_state_path(part).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) and state.get("url") == url else {}


def _content_range(value: str | None) -> tuple[int, int | None] | None:
    m = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if not m:
        return None
    return int(m.group(1)), None if m.group(3) == "*" else int(m.group(3))


class _Deadline(Exception):
    """The source's total deadline has passed: no more attempts."""


def _attempt(source: Source, part: Path, policy: DownloadSettings, bar: _Bar,
             deadline: float) -> tuple[str | None, bool]:
    """One HTTP request; appends to ``part``. Returns (content type, resumed).

    ``deadline`` (:func:`time.monotonic` instant): past it, :class:`_Deadline`; the socket
    timeout never exceeds what is left. Slower than ``policy.min_bytes_per_s`` over a window of
    ``policy.rate_window_s`` seconds: :class:`_Retry` (the next attempt resumes)."""
    url = source.location
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Deadline(f"more than {policy.deadline_s:g} s")
    state = _read_state(part, url)
    offset = part.stat().st_size if part.exists() and state else 0
    if offset and state.get("length") is not None and offset >= state["length"]:
        return state.get("content_type"), True  # already complete
    headers = {"User-Agent": policy.user_agent, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        etag = state.get("etag")
        # If-Range needs a strong validator: a weak ETag would make the server send it all.
        validator = etag if etag and not etag.startswith("W/") else state.get("last_modified")
        if validator:
            headers["If-Range"] = validator
    try:
        resp = urlopen(Request(url, headers=headers), timeout=max(0.001, min(policy.timeout_s, left)))
    except HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            unlink_quietly(part, _state_path(part))
            raise _Retry("HTTP 416: the partial file no longer matches; starting again") from exc
        if exc.code in (408, 425, 429) or exc.code >= 500:
            raise _Retry(f"HTTP {exc.code} {exc.reason}") from exc
        raise InputMissingError(f"{source.name}: HTTP {exc.code} {exc.reason}", path=url) from exc
    except (URLError, OSError, HTTPException) as exc:
        raise _Retry(f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}") from exc

    with resp:
        ctype = resp.headers.get("Content-Type")
        if ctype and ctype.split(";")[0].strip().lower() in _HTML_TYPES:
            raise InputFormatError(
                f"{source.name}: the server answered with an HTML page (Content-Type {ctype}) "
                "instead of the file: error, maintenance or login page?", path=url)
        length = resp.headers.get("Content-Length")
        length = int(length) if length and length.strip().isdigit() else None
        resumed = False
        if resp.status == 206 and offset:
            rng = _content_range(resp.headers.get("Content-Range"))
            if rng is None or rng[0] != offset:
                unlink_quietly(part, _state_path(part))
                raise _Retry(f"unexpected Content-Range {resp.headers.get('Content-Range')!r}")
            total = rng[1] if rng[1] is not None else (offset + length if length is not None else None)
            mode, received, resumed = "ab", offset, True
        else:
            total, mode, received = length, "wb", 0
            state = {"url": url, "etag": resp.headers.get("ETag"),
                     "last_modified": resp.headers.get("Last-Modified"),
                     "accept_ranges": "bytes" in (resp.headers.get("Accept-Ranges") or ""),
                     "length": total, "content_type": ctype}
            _state_path(part).write_text(json.dumps(state), encoding="utf-8")
        bar.update(received, total)
        first = mode == "wb"
        window_t, window_bytes = time.monotonic(), received
        head = b""
        try:
            with open(part, mode) as f:
                while True:
                    # read1: whatever has arrived (a slow server is seen at once), not 64 KiB
                    chunk = resp.read1(_CHUNK)
                    now = time.monotonic()
                    if now > deadline:
                        raise _Deadline(f"more than {policy.deadline_s:g} s, {received} bytes "
                                        "received")
                    if now - window_t >= policy.rate_window_s:
                        rate = (received + len(chunk) - window_bytes) / (now - window_t)
                        if rate < policy.min_bytes_per_s:
                            if not first:
                                f.write(chunk)  # kept for the resumed attempt
                            raise _Retry(f"too slow: {rate:.0f} bytes/s over {now - window_t:.0f} s "
                                         f"(minimum {policy.min_bytes_per_s:g})")
                        window_t, window_bytes = now, received + len(chunk)
                    if first:  # check the head once two lines (or 64 KiB, or all) are in
                        head += chunk
                        received += len(chunk)
                        if chunk and head.count(b"\n") < 2 and len(head) < _HEAD:
                            continue
                        check_head(source.kind, head, url, source.name)
                        first = False
                        f.write(head)
                        bar.update(received, total)
                        if not chunk:
                            break
                        continue
                    if not chunk:
                        break
                    f.write(chunk)
                    received += len(chunk)
                    bar.update(received, total)
        except (OSError, HTTPException) as exc:
            if time.monotonic() > deadline:
                raise _Deadline(f"more than {policy.deadline_s:g} s, {received} bytes "
                                "received") from exc
            raise _Retry(f"connection lost after {received} bytes: {exc}") from exc
    if total is not None and received != total:
        if received > total:
            unlink_quietly(part, _state_path(part))
        raise _Retry(f"incomplete download: {received} of {total} bytes")
    return ctype, resumed


def _download(source: Source, part: Path, policy: DownloadSettings, say: Say,
              show_progress: bool, sleep: Callable[[float], None]) -> tuple[str | None, int, bool]:
    bar = _Bar(show_progress, source.name)
    last: Exception | None = None
    attempts = 0
    deadline = time.monotonic() + policy.deadline_s
    try:
        for attempt in range(policy.retries + 1):
            if attempt:
                delay = min(policy.backoff_max_s, policy.backoff_s * 2 ** (attempt - 1))
                if time.monotonic() + delay >= deadline:
                    break
                say(f"{source.name}: {last}; nouvel essai {attempt}/{policy.retries} "
                    f"dans {delay:g} s")
                sleep(delay)
            attempts += 1
            try:
                ctype, resumed = _attempt(source, part, policy, bar, deadline)
                return ctype, attempts, resumed
            except _Retry as exc:
                last = exc
            except _Deadline as exc:
                last = exc
                say(f"{source.name}: délai total dépassé ({exc})")
                break
            except DacMapError:
                unlink_quietly(part, _state_path(part))
                raise
    finally:
        bar.close()
    if isinstance(last, _Deadline) or time.monotonic() >= deadline:
        if not _read_state(part, source.location).get("accept_ranges"):
            unlink_quietly(part, _state_path(part))
        raise InputMissingError(
            f"{source.name}: download abandoned, total deadline of {policy.deadline_s:g} s "
            f"(setting deadline_s) exceeded after {attempts} attempt(s): {last}",
            path=source.location)
    if not _read_state(part, source.location).get("accept_ranges"):
        unlink_quietly(part, _state_path(part))
    raise InputMissingError(f"{source.name}: download failed after {attempts} attempt(s): {last}",
                            path=source.location)


# --------------------------------------------------------------------------- public

def fetch(source: Source, dest: str | Path, policy: DownloadSettings, *,
          say: Say | None = None, show_progress: bool = False,
          sleep: Callable[[float], None] = time.sleep) -> Fetched:
    """Fetch ``source`` to ``dest``: complete and checked, or ``dest`` left as it was.

    Raises :class:`InputMissingError` or :class:`InputFormatError` (see the module doc).
    """
    say = say or (lambda _m: None)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    ctype, attempts, resumed = None, 1, False
    if source.is_url:
        say(f"Téléchargement de {source.name} : {source.location}")
        ctype, attempts, resumed = _download(source, part, policy, say, show_progress, sleep)
    else:
        src = Path(source.location)
        if not src.is_file():
            raise InputMissingError(f"{source.name}: file not found / fichier introuvable",
                                    path=str(src))
        say(f"Copie de {source.name} : {src}")
        unlink_quietly(_state_path(part))
        try:
            shutil.copyfile(src, part)
        except OSError as exc:
            unlink_quietly(part)
            raise InputMissingError(f"{source.name}: cannot copy: {exc}", path=str(src)) from exc
    try:
        validate_file(source.kind, part, source.location, source.name, policy.min_bytes)
        digest = sha256_file(part)
        size = part.stat().st_size
        with open(part, "rb") as f:
            os.fsync(f.fileno())
        os.replace(part, dest)
    except BaseException:
        unlink_quietly(part)
        raise
    finally:
        unlink_quietly(_state_path(part))
    return Fetched(source.name, source.location, dest, size, digest, ctype, attempts, resumed)
