"""Stored text shown to a person: one escaping rule for the CLI and the web UI.

Names, reasons, actors, descriptions and URIs are untrusted. Shown as they are, a newline
or U+2028 would start a forged line of a listing, U+202E (RIGHT-TO-LEFT OVERRIDE) would
make "evil" read "live", and a zero-width or NEXT LINE (U+0085) character would hide in an
actor name. `inert` shows each such character as a visible escape (`\\n`, `\\x85`,
`\\u202e`), so every record stays one readable line and says exactly what is stored.
"""

from __future__ import annotations

import functools
import unicodedata

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
