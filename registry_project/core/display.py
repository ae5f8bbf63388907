"""Values shown to a person, one way for the CLI and the web UI: stored text made inert,
numbers, signed deltas and times.

Names, reasons, actors, descriptions and URIs are untrusted. Shown as they are, a newline
or U+2028 would start a forged line of a listing, U+202E (RIGHT-TO-LEFT OVERRIDE) would
make "evil" read "live", and a zero-width or NEXT LINE (U+0085) character would hide in an
actor name. `inert` shows each such character as a visible escape (`\\n`, `\\x85`,
`\\u202e`), so every record stays one readable line and says exactly what is stored.
"""

from __future__ import annotations

import functools
import math
import sys
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from registry_project.core.entities import ProtectionRule

# Controls (Cc, including C1 controls such as U+0085), format characters (Cf: bidi
# overrides and isolates, zero-width spaces and joiners, the BOM), line and paragraph
# separators (Zl, Zp) and lone surrogates (Cs: bytes that were not UTF-8).
ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


@functools.lru_cache(maxsize=4096)
def _escape(character: str) -> str:
    if unicodedata.category(character) not in ESCAPED_CATEGORIES:
        return character
    code = ord(character)
    if character in "\n\r\t":
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}[character]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def inert(value: object) -> str:
    """`value` as one line of text in which every invisible character is a visible escape.

    Example::

        inert("ok\\u202egnp.exe")  # 'ok\\\\u202egnp.exe'
    """
    text = str(value)
    if text.isprintable():  # the common case: nothing to escape (spaces are printable)
        return text
    return "".join(_escape(character) for character in text)


def plain(value: Any) -> Any:
    """A pandas / numpy cell as a plain Python value; None for NaN and NaT. (pandas is not
    imported for this: where it is not loaded, nothing is NaT.)"""
    pandas = sys.modules.get("pandas")
    if value is None or (pandas is not None and value is pandas.NaT):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        return plain(value.item())
    return value


def number(value: Any) -> str:
    """A metric value: 4 significant digits, thousands separated when large; "-" for
    none or a non-finite number."""
    value = plain(value)
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return "-"
    if abs(value) >= 10_000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


def signed(value: Any) -> str:
    """A difference with its sign always shown: +0.0079, -0.002, 0."""
    shown = number(value)
    value = plain(value)
    positive = isinstance(value, int | float) and value > 0
    return f"+{shown}" if positive and shown != "-" else shown


def when(value: datetime | None, *, seconds: bool) -> str:
    """A timestamp in UTC, to the second or the minute; "-" for none."""
    value = plain(value)
    if value is None:
        return "-"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def protection(rule: ProtectionRule) -> str:
    """A model's protection rule in one line (`registry show`, `registry protect`, the
    model and version pages): what entering a protected stage or alias needs."""
    if not rule.require_approval:
        return "none" if not rule.stored else f"none (lifted by {rule.updated_by})"
    places = [s.value for s in rule.protected_stages] + [f"@{a}" for a in rule.protected_aliases]
    return (
        f"{rule.min_approvals} approval{'s' if rule.min_approvals != 1 else ''} by others than "
        f"the registrant to enter {', '.join(places) or 'nothing'} "
        f"(set by {rule.updated_by}, {when(rule.updated_at, seconds=True)} UTC)"
    )
