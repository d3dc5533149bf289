"""Paths built from names that users or configuration files give: they never leave their folder.

* :func:`safe_name` checks one file-name component (no separator, no ``..``, no drive, no NUL
  or control character, optional pattern);
* :func:`safe_join` joins relative parts under a base folder and checks that the resolved result
  (symbolic links followed) is still inside the resolved base.

Errors: :class:`UnsafePathError` (exit code 2, a usage error), with a French and English
message naming the offending value.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath, PureWindowsPath

from dac_map.errors import DacMapError


class UnsafePathError(DacMapError, exit_code=2):
    """A name or path given by a user or a configuration would leave its folder."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def safe_name(name: str, *, pattern: re.Pattern[str] | None = None, what: str = "nom") -> str:
    """``name`` if it is one plain file-name component (and matches ``pattern`` in full when
    given); else :class:`UnsafePathError`."""
    if not isinstance(name, str) or not name or name.strip() != name:
        raise UnsafePathError(f"{what} invalide / invalid name: {name!r}")
    if (_CONTROL.search(name) or name in (".", "..") or "/" in name or "\\" in name
            or PureWindowsPath(name).drive or ":" in name):
        raise UnsafePathError(f"{what} invalide (séparateur, '..' ou caractère interdit) / "
                              f"invalid name (separator, '..' or forbidden character): {name!r}")
    if pattern is not None and not pattern.fullmatch(name):
        raise UnsafePathError(f"{what} invalide / invalid name: {name!r}")
    return name


def is_within(path: str | os.PathLike[str], base: str | os.PathLike[str]) -> bool:
    """True when ``path`` resolves (links followed) inside ``base`` (or is ``base``)."""
    p, b = Path(path).resolve(), Path(base).resolve()
    return p == b or b in p.parents


def safe_join(base: str | os.PathLike[str], *parts: str, what: str = "chemin") -> Path:
    """``base / parts...`` after checking that every part is relative, has no ``..`` component
    and that the resolved result stays inside the resolved ``base``; else
    :class:`UnsafePathError`."""
    target = Path(base)
    for part in parts:
        if not isinstance(part, str) or not part or _CONTROL.search(part):
            raise UnsafePathError(f"{what} invalide / invalid path: {part!r}")
        for flavour in (PurePosixPath(part), PureWindowsPath(part)):
            if flavour.is_absolute() or flavour.drive or flavour.root or ".." in flavour.parts:
                raise UnsafePathError(f"{what} hors du dossier {base} / path outside {base}: {part!r}")
        target = target / part
    if not is_within(target, base):
        raise UnsafePathError(f"{what} hors du dossier {base} / path outside {base}: "
                              f"{os.path.join(*parts)!r}")
    return target


__all__ = ["UnsafePathError", "is_within", "safe_join", "safe_name"]
