"""One Unicode normal form for ticket text, shared by input checks and redaction.

Why: a card number written with zero-width spaces, an e-mail with a full-width ``＠`` or a text made of
nothing but invisible characters all look harmless to a pattern that only knows ASCII. NFKC folds
compatibility forms (full-width letters and digits, ligatures, no-break spaces) into their plain forms, and
zero-width and other invisible format characters are removed, so every later check sees what a reader sees.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

# Format characters (Unicode category Cf: zero-width space/joiners, BOM, bidi marks, soft hyphen, ...) plus
# the "blank" letters that render as nothing but are not Cf.
_INVISIBLE_EXTRA = "\u115f\u1160\u3164\uffa0\u2800"


def _is_invisible(char: str) -> bool:
    return unicodedata.category(char) == "Cf" or char in _INVISIBLE_EXTRA


@cache
def _invisible_re() -> re.Pattern[str]:
    """Built on first use (a pass over every code point, ~0.1 s), not at import."""
    return re.compile("[" + "".join(re.escape(chr(c)) for c in range(0x110000) if _is_invisible(chr(c))) + "]")


def strip_invisible(text: str) -> str:
    """``text`` without zero-width and other invisible format characters."""
    return _invisible_re().sub("", text)


def normalise(text: str) -> str:
    """NFKC, then invisible characters removed: the form redaction and emptiness checks work on."""
    return strip_invisible(unicodedata.normalize("NFKC", text))


def has_visible_text(text: str) -> bool:
    """Whether ``text`` shows anything once invisible characters and whitespace are gone."""
    return bool(strip_invisible(text).strip())
