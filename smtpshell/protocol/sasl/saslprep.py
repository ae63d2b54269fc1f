"""SASLprep (RFC 4013): the stringprep profile SCRAM applies to user names and passwords."""

from __future__ import annotations

import stringprep
import unicodedata

# RFC 4013 2.3: prohibited output (C.1.2, C.2.1, C.2.2, C.3 - C.9)
_PROHIBITED = (
    ("non-ASCII space", stringprep.in_table_c12),
    ("ASCII control character", stringprep.in_table_c21),
    ("non-ASCII control character", stringprep.in_table_c22),
    ("private use character", stringprep.in_table_c3),
    ("non-character code point", stringprep.in_table_c4),
    ("surrogate code point", stringprep.in_table_c5),
    ("character inappropriate for plain text", stringprep.in_table_c6),
    ("character inappropriate for canonical representation", stringprep.in_table_c7),
    ("change display property or deprecated character", stringprep.in_table_c8),
    ("tagging character", stringprep.in_table_c9),
)


def saslprep(text: str) -> str:
    """Map, normalise (NFKC), check; raises ValueError naming the first prohibited character.

    Unassigned code points are allowed (a "query", RFC 3454 7), as a client should.
    """
    # 2.1 mapping: non-ASCII spaces to SPACE, "commonly mapped to nothing" removed
    mapped = "".join(" " if stringprep.in_table_c12(ch) else ch for ch in text if not stringprep.in_table_b1(ch))
    # 2.2 normalisation
    result = unicodedata.normalize("NFKC", mapped)
    for position, ch in enumerate(result):
        for what, check in _PROHIBITED:
            if check(ch):
                raise ValueError(f"SASLprep: {what} U+{ord(ch):04X} at position {position}")
    # 2.5 bidirectional characters (RFC 3454 6)
    if any(stringprep.in_table_d1(ch) for ch in result):
        if any(stringprep.in_table_d2(ch) for ch in result):
            raise ValueError("SASLprep: right-to-left and left-to-right characters mixed")
        if not (stringprep.in_table_d1(result[0]) and stringprep.in_table_d1(result[-1])):
            raise ValueError("SASLprep: a right-to-left string must start and end with a right-to-left character")
    return result
