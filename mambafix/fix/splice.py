"""Carry a fix into a file that libcst does not print back byte for byte.

libcst normalises a few things when it prints a tree (the space in `except X :`, a bare-CR
file's final line ending). The fix is computed on libcst's printing of the untouched file; the
lines it changes are then spliced into the original bytes, so every other line keeps its exact
bytes and the new lines take the file's own line ending. Refused (None) when the printing does
not correspond line for line, or when the spliced file does not read back as the fix.
"""

from __future__ import annotations

import difflib

import libcst as cst


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _ending(lines: list[str]) -> str:
    counts: dict[str, int] = {}
    for line in lines:
        end = line[len(line.rstrip("\r\n")):]
        if end:
            counts[end] = counts.get(end, 0) + 1
    return max(counts, key=counts.get) if counts else "\n"


def _with_ending(line: str, ending: str) -> str:
    body = line.rstrip("\r\n")
    return body + ending if len(body) != len(line) else line


def splice(original: str, printed: str, fixed: str) -> str | None:
    """`original` with the lines that differ between `printed` (libcst's printing of the untouched
    tree) and `fixed` (its printing after the fix) replaced; None when that cannot be exact."""
    source, before, after = _lines(original), _lines(printed), _lines(fixed)
    if len(source) != len(before):
        return None
    for a, b in zip(source, before):  # each printed line must be its original line, normalised
        if a.rstrip("\r\n").replace(" ", "") != b.rstrip("\r\n").replace(" ", ""):
            return None
    ending = _ending(source)
    out: list[str] = []
    matcher = difflib.SequenceMatcher(a=[line.rstrip("\r\n") for line in before],
                                      b=[line.rstrip("\r\n") for line in after], autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(source[i1:i2])
        else:
            out.extend(_with_ending(line, ending) for line in after[j1:j2])
    if out and not out[-1].endswith(("\r", "\n")) and source and source[-1].endswith(("\r", "\n")):
        out[-1] += ending  # a line added after the original's last one
    result = "".join(out)
    try:
        if cst.parse_module(result).code != cst.parse_module(fixed).code:
            return None
    except cst.ParserSyntaxError:
        return None
    return result
