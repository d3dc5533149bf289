"""Opening a FINESS+ JSON flow: plain or gzipped, sniffed before it is parsed, then streamed
item by item (``pmej`` legal entities) with the standard library's C JSON scanner
(:class:`FlowReader`). The parsed document is never held in memory: one legal entity (with its
establishments and activities) at a time.

File-level problems raise :class:`~dac_map.errors.InputMissingError` (exit 3) or
:class:`~dac_map.errors.InputFormatError` (exit 4) naming the file and the JSON path of the
last item read: missing or empty file, HTML page, ZIP, UTF-16, invalid UTF-8, truncated or
malformed JSON, a file of the other flow, no ``pmej`` array.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dac_map.errors import InputFormatError, InputMissingError

STRUCTURES = "structures"
ACTIVITES = "activites"

#: French name of each flow, for messages.
FLOW_NAMES = {STRUCTURES: "FINESS+ Structures", ACTIVITES: "FINESS+ Activités"}

#: Keys of a ``pmej`` item that only one flow has.
_STRUCTURES_KEYS = frozenset({"informationsGeneralesPMEJ", "adresse", "contact", "evenement"})
_ACTIVITES_KEYS = frozenset({"numFiness", "activitesAutorisees"})

#: Bytes read at a time.
_CHUNK = 1 << 22
_WS = re.compile(r"[ \t\r\n]*")


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
    """What a flow says besides its legal entities: its kind (from the keys of its first legal
    entity), top-level scalars (``schemaVersion``, ``generatedAt``), top-level keys, the keys of
    the first legal entity and the number of groups (``gcc``, ``gco``: Structures)."""

    path: Path
    flow: str | None
    top: dict[str, object] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    first_item_keys: list[str] = field(default_factory=list)
    groups: dict[str, int] = field(default_factory=dict)


class FlowReader:
    """Streams a flow with the standard library's C JSON scanner: the text is decoded as UTF-8
    in chunks of :data:`_CHUNK` bytes and each element of the top-level ``pmej`` array is
    decoded alone (``json.JSONDecoder.raw_decode``), so memory holds one legal entity and one
    chunk. Other top-level values (scalars, the small ``gcc``/``gco`` arrays) are decoded and
    recorded in :attr:`head`. Errors raise :class:`InputFormatError` with the JSON path of
    the element being read and the byte offset."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.head = FlowHead(self.path, None)
        self._decoder = json.JSONDecoder()
        self._bytes = codecs.getincrementaldecoder("utf-8")("strict")
        self._raw = None
        self._buf = ""
        self._pos = 0
        self._eof = False
        self._first = True
        self._bytes_read = 0
        self._where = "$"

    # ---------------------------------------------------------------- buffer
    def _fill(self, size: int | None = None) -> bool:
        """Read one more chunk (``size`` bytes, default :data:`_CHUNK`); False at end of file."""
        if self._eof:
            return False
        try:
            data = self._raw.read(max(size or 0, _CHUNK))
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise InputFormatError(f"fichier gzip illisible ou tronqué / unreadable or truncated gzip file: "
                                   f"{exc}", path=str(self.path), field=self._where) from None
        if self._first:
            self._first = False
            _sniff_bytes(self.path, data[:4096])
            if data.startswith(b"\xef\xbb\xbf"):
                data = data[3:]
        try:
            text = self._bytes.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise InputFormatError(f"UTF-8 invalide à l'octet {self._bytes_read + exc.start} (fichier en "
                                   "Latin-1 ?) / invalid UTF-8", path=str(self.path), field=self._where) from None
        self._bytes_read += len(data)
        if not data:
            self._eof = True
            return False
        if self._pos > (1 << 20):
            self._buf = self._buf[self._pos:]
            self._pos = 0
        self._buf += text
        return True

    def _skip_ws(self) -> str:
        """The next non-blank character ('' at end of file)."""
        while True:
            self._pos = _WS.match(self._buf, self._pos).end()
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def _error(self, what: str, detail: str = "") -> InputFormatError:
        offset = self._bytes_read - len(self._buf.encode("utf-8", "surrogatepass")[self._pos:]) \
            if len(self._buf) - self._pos < 1_000_000 else None
        at = f" vers l'octet {offset}" if offset is not None and offset >= 0 else ""
        return InputFormatError(f"{what}{at}" + (f" : {detail}" if detail else ""), path=str(self.path),
                                field=self._where)

    def _expect(self, chars: str) -> str:
        c = self._skip_ws()
        if c == "":
            raise self._error("JSON tronqué (fichier incomplet : téléchargement interrompu ?) / truncated JSON")
        if c not in chars:
            raise self._error("JSON invalide / malformed JSON", f"« {chars} » attendu, « {c} » trouvé")
        self._pos += 1
        return c

    def _value(self) -> object:
        """Decode the JSON value at the cursor, reading more text as needed."""
        self._skip_ws()
        more = _CHUNK  # doubled at each retry: a value longer than a chunk is decoded O(log n) times
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                # cut by the end of the text read so far (a literal such as ``nul`` fails at its
                # start, a string at its opening quote): read on and decode again
                near_end = exc.pos >= len(self._buf) - 64 or exc.msg.startswith("Unterminated")
                if near_end and self._fill(more):
                    more *= 2
                    continue
                if exc.pos >= len(self._buf.rstrip()) - 10 or exc.msg.startswith("Unterminated"):
                    raise self._error("JSON tronqué (fichier incomplet : téléchargement interrompu ?) / "
                                      "truncated JSON") from None
                self._pos = exc.pos
                raise self._error("JSON invalide / malformed JSON", exc.msg) from None
            except RecursionError:
                raise self._error("JSON trop profondément imbriqué / JSON nested too deeply") from None
            # a number or literal cut by the chunk boundary: read on and decode again
            if end >= len(self._buf) and not self._eof and self._buf[end - 1] not in "}]\"" and self._fill(more):
                more *= 2
                continue
            self._pos = end
            return value

    # ---------------------------------------------------------------- document
    def items(self) -> Iterator[tuple[int, object]]:
        """Yield ``(index, element)`` for each element of ``pmej``; records the other
        top-level values in :attr:`head`."""
        self._raw = _open_binary(self.path)
        try:
            first = self._skip_ws()
            if first == "[":
                raise InputFormatError("le document est un tableau JSON : objet avec « pmej » attendu / "
                                       "top-level JSON array, expected an object with 'pmej'",
                                       path=str(self.path), field="$")
            self._expect("{")
            if self._skip_ws() == "}":
                self._pos += 1
            else:
                while True:
                    self._where = "$"
                    if self._skip_ws() != '"':
                        self._expect('"')
                    key = self._value()
                    self.head.keys.append(key)
                    self._where = f"$.{key}"
                    self._expect(":")
                    if key == "pmej" and self._skip_ws() == "[":
                        yield from self._array()
                    else:
                        value = self._value()
                        if isinstance(value, (str, int, float, bool)) or value is None:
                            self.head.top[key] = value
                        elif key in ("gcc", "gco") and isinstance(value, list):
                            self.head.groups[key] = len(value)
                    self._where = "$"
                    if self._expect(",}") == "}":
                        break
            if self._skip_ws() != "":
                raise self._error("données après la fin du document JSON / data after the JSON document")
        finally:
            self._raw.close()

    def _array(self) -> Iterator[tuple[int, object]]:
        self._pos += 1  # "["
        i = 0
        if self._skip_ws() == "]":
            self._pos += 1
            return
        while True:
            self._where = f"$.pmej[{i}]"
            item = self._value()
            if i == 0 and isinstance(item, dict):
                self.head.first_item_keys = list(item)[:6]
                self.head.flow = flow_of(item)
            yield i, item
            i += 1
            self._where = f"$.pmej[{i}]"
            if self._expect(",]") == "]":
                return


def flow_of(item: dict) -> str | None:
    """The flow a ``pmej`` element belongs to, from its keys (None when it cannot tell)."""
    keys = set(item)
    if keys & _ACTIVITES_KEYS:
        return ACTIVITES
    if keys & _STRUCTURES_KEYS:
        return STRUCTURES
    return None


def check_flow(head: FlowHead, expected: str) -> None:
    """Raise :class:`InputFormatError` when the first legal entity shows a flow of another
    kind than ``expected``."""
    if head.flow is not None and head.flow != expected:
        raise InputFormatError(
            f"ce fichier est un flux {FLOW_NAMES[head.flow]}, pas un flux {FLOW_NAMES[expected]} "
            f"(vérifier l'option utilisée) / this is a {head.flow} flow, not a {expected} flow",
            path=str(head.path), field="$.pmej[0]")


def check_has_pmej(head: FlowHead, expected: str) -> None:
    """Raise :class:`InputFormatError` when the document had no ``pmej`` array."""
    if "pmej" not in head.keys:
        raise InputFormatError(
            f"pas de tableau « pmej » : ce n'est pas un flux {FLOW_NAMES[expected]} (clés trouvées : "
            f"{', '.join(head.keys[:8]) or 'aucune'}) / no 'pmej' array", path=str(head.path), field="$.pmej")


def sniff_flow(path: str | Path, expected: str) -> FlowHead:
    """Read a flow up to its first legal entity and check it is a flow of kind ``expected``
    (file-level problems raise :class:`InputFormatError`); stops there."""
    reader = FlowReader(path)
    items = reader.items()
    try:
        for _ in items:
            break
        else:
            check_has_pmej(reader.head, expected)
    finally:
        items.close()
    check_flow(reader.head, expected)
    return reader.head


def stream_flow(path: Path, expected: str, handle, report, strict: bool, schema_errors) -> tuple[FlowHead, int]:
    """Read a whole flow of kind ``expected``: ``handle(index, element)`` for each legal entity
    (cyclic garbage collector off meanwhile), then the top-level keys the schema requires are
    checked (``metadata_missing`` / ``missing_field`` deviations). With ``strict``, raises
    :class:`~dac_map.errors.ValidationError` when ``schema_errors()`` (violations counted by the
    handler) is non-zero or a required key is missing. Returns the head and the number of
    legal entities."""
    import gc

    from dac_map.errors import ValidationError
    from dac_map.finess_plus.schema import top_level_errors

    flow = FlowReader(path)
    n = 0
    was = gc.isenabled()
    gc.disable()  # millions of small acyclic objects: the cyclic collector only slows the read
    try:
        for i, item in flow.items():
            if i == 0:
                check_flow(flow.head, expected)
            handle(i, item)
            n += 1
    finally:
        if was:
            gc.enable()
    check_has_pmej(flow.head, expected)
    missing = top_level_errors(expected, flow.head.keys)
    for k in missing:
        report.add("metadata_missing" if k == "metadata" else "missing_field", path.name, f"$.{k}",
                   f"clé de premier niveau « {k} » absente (le schéma l'exige)")
    if strict and (schema_errors() or missing):
        first = report.examples.get("schema")
        raise ValidationError(
            f"mode strict : {schema_errors()} écart(s) au schéma publié"
            + (f", clé(s) absente(s) {', '.join(missing)}" if missing else "")
            + (f" ; premier : {first[0]}" if first else "")
            + " / strict mode: the file does not conform to its schema", path=str(path))
    return flow.head, n
