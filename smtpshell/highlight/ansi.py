"""Render styled lines to text with ANSI SGR codes (or to plain text).

Used for everything the shell prints, in the REPL and in scripts alike, so
the scripted path needs pygments' style machinery only (no prompt_toolkit).
"""

from __future__ import annotations

from typing import Iterable

_ANSI_FG = {
    "ansiblack": 30, "ansired": 31, "ansigreen": 32, "ansiyellow": 33,
    "ansiblue": 34, "ansimagenta": 35, "ansicyan": 36, "ansigray": 37,
    "ansibrightblack": 90, "ansibrightred": 91, "ansibrightgreen": 92,
    "ansibrightyellow": 93, "ansibrightblue": 94, "ansibrightmagenta": 95,
    "ansibrightcyan": 96, "ansiwhite": 97,
}


def _color(value: str, background: bool) -> str:
    if value in _ANSI_FG:
        code = _ANSI_FG[value]
        return str(code + 10 if background else code)
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return f"{48 if background else 38};2;{r};{g};{b}"


class AnsiRenderer:
    """Turns ``[(token, text), ...]`` lines into terminal text in a pygments style."""

    def __init__(self, style_cls, *, color: bool = True) -> None:
        self.style = style_cls
        self.color = color
        self._cache: dict[object, str] = {}

    def _sgr(self, token) -> str:
        sgr = self._cache.get(token)
        if sgr is None:
            st = self.style.style_for_token(token)
            codes = []
            if st.get("bold"):
                codes.append("1")
            if st.get("italic"):
                codes.append("3")
            if st.get("underline"):
                codes.append("4")
            color = st.get("ansicolor") or st.get("color")
            if color:
                codes.append(_color(color, False))
            bgcolor = st.get("bgansicolor") or st.get("bgcolor")
            if bgcolor:
                codes.append(_color(bgcolor, True))
            sgr = f"\x1b[{';'.join(codes)}m" if codes else ""
            self._cache[token] = sgr
        return sgr

    def line(self, fragments: Iterable[tuple[object, str]]) -> str:
        if not self.color:
            return "".join([text for _, text in fragments])
        cache = self._cache
        parts = []
        for token, text in fragments:
            sgr = cache.get(token)
            if sgr is None:
                sgr = self._sgr(token)
            parts.append(f"{sgr}{text}\x1b[0m" if sgr else text)
        return "".join(parts)

    def lines(self, lines) -> str:
        line = self.line
        if type(lines) is list and len(lines) == 1:  # most events are one line
            return line(lines[0]) + "\n"
        return "".join([line(frags) + "\n" for frags in lines])
