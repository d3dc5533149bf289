"""Opening a FINESS+ JSON flow: plain or gzipped, sniffed before it is parsed, then streamed
item by item (``pmej`` legal entities) with ijson's C backend. The parsed document is never
held in memory: one legal entity (with its establishments and activities) at a time.

File-level problems raise :class:`~dac_map.errors.InputMissingError` (exit 3) or
:class:`~dac_map.errors.InputFormatError` (exit 4) naming the file and the JSON path of the
last item read: missing or empty file, HTML page, ZIP, UTF-16, invalid UTF-8, truncated or
malformed JSON, a file of the other flow, no ``pmej`` array.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ijson

from dac_map.errors import InputFormatError, InputMissingError

STRUCTURES = "structures"
ACTIVITES = "activites"

#: French name of each flow, for messages.
FLOW_NAMES = {STRUCTURES: "FINESS+ Structures", ACTIVITES: "FINESS+ Activités"}

#: Keys of a ``pmej`` item that only one flow has.
_STRUCTURES_KEYS = frozenset({"informationsGeneralesPMEJ", "adresse", "contact", "evenement"})
_ACTIVITES_KEYS = frozenset({"numFiness", "activitesAutorisees"})

_BUFFER = 1 << 16


class _CountingReader(io.RawIOBase):
    """A binary stream that counts the bytes read and drops a leading UTF-8 BOM."""

    def __init__(self, raw: io.BufferedIOBase) -> None:
        self.raw = raw
        self.offset = 0
        self._first = True

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if self._first and data:  # (ijson first calls read(0) to tell bytes from text)
            self._first = False
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
                self.offset += 3
        self.offset += len(data)
        return data

    def readinto(self, b) -> int:  # pragma: no cover - ijson uses read()
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.raw.close()
        super().close()


def _open_binary(path: Path) -> io.BufferedIOBase:
    """The file, decompressed when gzipped (sniffed by its magic number, not its name)."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise InputMissingError("fichier introuvable / file not found", path=str(path)) from None
    except OSError as exc:
        raise InputMissingError(f"fichier illisible / unreadable file: {exc}", path=str(path)) from None
    magic = f.read(2)
    f.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f  # type: ignore[return-value]


def _sniff_bytes(path: Path, head: bytes) -> None:
    """Refuse what is clearly not a JSON flow, from its first bytes."""
    where = str(path)
    if not head.strip():
        raise InputFormatError("fichier vide / empty file", path=where)
    if head.startswith(b"PK\x03\x04"):
        raise InputFormatError("archive ZIP : décompresser d'abord / ZIP archive, unzip it first",
                               path=where)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:200].count(b"\x00") > 10:
        raise InputFormatError("encodage UTF-16 ou fichier binaire : UTF-8 attendu / UTF-16 or binary "
                               "file, UTF-8 JSON expected", path=where)
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] == b"<":
        kind = "page HTML" if text[:200].lower().find(b"html") >= 0 else "document XML/HTML"
        raise InputFormatError(f"{kind} au lieu d'un flux JSON FINESS+ (page d'erreur du serveur ?) / "
                               "HTML page instead of a FINESS+ JSON flow", path=where)
    if text[:1] not in (b"{", b"["):
        raise InputFormatError(f"pas un document JSON (commence par {text[:20]!r}) / not a JSON document",
                               path=where)
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the sample
            raise InputFormatError(f"UTF-8 invalide à l'octet {exc.start} (fichier en Latin-1 ?) / "
                                   f"invalid UTF-8 at byte {exc.start}", path=where) from None


@dataclass
class FlowHead:
    """What the start of a flow says: its kind, top-level scalars, top-level keys seen before
    the ``pmej`` array, the keys of the first legal entity, group counts (Structures)."""

    path: Path
    flow: str | None
    top: dict[str, object] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    first_item_keys: list[str] = field(default_factory=list)
    groups: dict[str, int] = field(default_factory=dict)


def _json_error(path: Path, exc: Exception, where: str, offset: int | None = None) -> InputFormatError:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    low = msg.lower()
    if "utf8" in low or "utf-8" in low:
        what = "UTF-8 invalide (fichier en Latin-1 ?) / invalid UTF-8"
    elif "premature eof" in low or "incomplete" in low:
        what = "JSON tronqué (fichier incomplet : téléchargement interrompu ?) / truncated JSON"
    else:
        what = "JSON invalide / malformed JSON"
    at = f" vers l'octet {offset}" if offset is not None else ""
    return InputFormatError(f"{what}{at} : {msg}", path=str(path), field=where)


def read_head(path: str | Path) -> FlowHead:
    """Parse the start of a flow up to the first key of its first legal entity: its kind
    (``structures``, ``activites`` or None when it cannot tell), top-level scalars
    (``schemaVersion``, ``generatedAt``) and keys. Streams: stops early."""
    path = Path(path)
    raw = _open_binary(path)
    try:
        try:
            sample = raw.read(4096)
        except (OSError, EOFError) as exc:
            raise InputFormatError(f"fichier gzip illisible / unreadable gzip file: {exc}", path=str(path)) from None
        _sniff_bytes(path, sample)
        raw.seek(0) if raw.seekable() else None
        if not raw.seekable():  # pragma: no cover - gzip.GzipFile is seekable
            raw = _open_binary(path)
        head = FlowHead(path, None)
        reader = _CountingReader(raw)
        depth_keys: list[str] = []
        item_depth = None
        try:
            for prefix, event, value in ijson.parse(reader, buf_size=_BUFFER, use_float=True):
                if prefix == "" and event == "start_array":
                    raise InputFormatError("le document est un tableau JSON : objet avec « pmej » attendu / "
                                           "top-level JSON array, expected an object with 'pmej'",
                                           path=str(path), field="$")
                if prefix == "" and event == "map_key":
                    head.keys.append(value)
                    depth_keys = [value]
                    continue
                if "." not in prefix and event in ("string", "number", "boolean", "null") and prefix:
                    head.top[prefix] = value
                if prefix in ("gcc.item", "gco.item") and event == "start_map":
                    name = prefix.split(".")[0]
                    head.groups[name] = head.groups.get(name, 0) + 1
                if prefix == "pmej.item" and event == "start_map":
                    item_depth = True
                    continue
                if item_depth and prefix == "pmej.item" and event == "map_key":
                    head.first_item_keys.append(value)
                    if len(head.first_item_keys) >= 6:
                        break
                    continue
                if item_depth and prefix == "pmej.item" and event == "end_map":
                    break
                if prefix == "pmej" and event == "end_array":
                    break
        except ijson.JSONError as exc:
            raise _json_error(path, exc, "$" if not depth_keys else f"$.{depth_keys[-1]}",
                              reader.offset) from None
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputFormatError(f"fichier gzip illisible / unreadable gzip file: {exc}", path=str(path)) from None
        del depth_keys
    finally:
        raw.close()
    keys = set(head.first_item_keys)
    if keys & _ACTIVITES_KEYS:
        head.flow = ACTIVITES
    elif keys & _STRUCTURES_KEYS or head.groups:
        head.flow = STRUCTURES
    return head


def check_flow(path: str | Path, expected: str) -> FlowHead:
    """:func:`read_head`, raising :class:`InputFormatError` unless the file is a flow of kind
    ``expected`` with a ``pmej`` array."""
    head = read_head(path)
    if "pmej" not in head.keys:
        raise InputFormatError(
            f"pas de tableau « pmej » : ce n'est pas un flux {FLOW_NAMES[expected]} (clés trouvées : "
            f"{', '.join(head.keys[:8]) or 'aucune'}) / no 'pmej' array", path=str(path), field="$.pmej")
    if head.flow is not None and head.flow != expected:
        raise InputFormatError(
            f"ce fichier est un flux {FLOW_NAMES[head.flow]}, pas un flux {FLOW_NAMES[expected]} "
            f"(vérifier l'option utilisée) / this is a {head.flow} flow, not a {expected} flow",
            path=str(path), field="$.pmej[0]")
    return head


def iter_items(path: str | Path) -> Iterator[tuple[int, object]]:
    """Yield ``(index, item)`` for each element of the top-level ``pmej`` array, streaming.

    A syntax error, truncation or invalid UTF-8 raises :class:`InputFormatError` naming the
    JSON path of the item being read (``$.pmej[i]``) and the byte offset.
    """
    path = Path(path)
    raw = _open_binary(path)
    reader = _CountingReader(raw)
    i = -1
    try:
        for i, item in enumerate(ijson.items(reader, "pmej.item", buf_size=_BUFFER, use_float=True)):
            yield i, item
    except ijson.JSONError as exc:
        raise _json_error(path, exc, f"$.pmej[{i + 1}]", reader.offset) from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputFormatError(f"fichier gzip illisible ou tronqué / unreadable or truncated gzip file: "
                               f"{exc}", path=str(path), field=f"$.pmej[{i + 1}]") from None
    finally:
        raw.close()
