"""Jupyter notebooks as Python source: the code cells that parse, joined into one module.

Each included cell starts with a marker statement, `__mambafix_cell__(N)` (N the cell's
position in the notebook, from 1), so that checks see one module (imports in cell 1 resolve in
cell 3) and a fixed module splits back into cells. IPython magics (`%time ...`, `!pip ...`)
stand in as `__mambafix_magic__(K)` statements and come back unchanged; a cell magic
(`%%bash`) or a cell that does not parse is left out, untouched. Writing back changes only the
`source` of the cells whose code changed; everything else (outputs, metadata, ids, key order,
indentation) is re-serialised as it was, and a notebook whose JSON layout would not come back
byte for byte is not rewritten. Plain JSON: no libcst, no nbformat.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field

CELL = "__mambafix_cell__"
MAGIC = "__mambafix_magic__"
_CELL_LINE = re.compile(rf"^{CELL}\((\d+)\)$")
_MAGIC_LINE = re.compile(rf"^[ \t]*{MAGIC}\((\d+)\)$")


class NotebookError(ValueError):
    """Not a notebook this tool can read or write back; a per-file error."""


def is_notebook(path: str) -> bool:
    return path.endswith(".ipynb")


@dataclass
class Notebook:
    raw: bytes
    data: dict
    source: str  # the Python module made of the included cells
    magics: list[str] = field(default_factory=list)  # the original magic lines, by number
    texts: dict[int, str] = field(default_factory=dict)  # included cell number -> its original code

    @property
    def cells(self) -> list[dict]:
        return self.data["cells"]


def _cell_text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def load(raw: bytes) -> Notebook:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotebookError(f"not a readable notebook: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a notebook: no list of cells")
    nb = Notebook(raw, data, "")
    parts = []
    for number, cell in enumerate(data["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        text = _cell_text(cell)
        code = _without_magics(text, nb.magics)
        if code is None:
            continue
        try:
            ast.parse(code)
        except (SyntaxError, ValueError):
            continue  # a cell that is not Python is skipped, never fatal
        nb.texts[number] = text
        parts.append(f"{CELL}({number})\n{code}" + ("" if code.endswith("\n") or not code else "\n"))
    nb.source = "".join(parts)
    return nb


def _without_magics(text: str, magics: list[str]) -> str | None:
    """The cell with each line magic replaced by a placeholder statement; None for a cell magic."""
    lines = text.splitlines(keepends=True)
    if lines and lines[0].lstrip().startswith("%%"):
        return None
    out = []
    for line in lines:
        body = line.rstrip("\r\n")
        stripped = body.lstrip()
        if stripped.startswith(("%", "!")):
            indent = body[: len(body) - len(stripped)]
            out.append(f"{indent}{MAGIC}({len(magics)})" + line[len(body):])
            magics.append(body)
        else:
            out.append(line)
    return "".join(out)


def locate(source: str, line: int) -> tuple[int, int]:
    """(cell number, line within the cell) of a line of the joined module."""
    cell, start = 0, 0
    for number, text in enumerate(source.splitlines(), start=1):
        if number > line:
            break
        match = _CELL_LINE.match(text)
        if match:
            cell, start = int(match.group(1)), number
    return cell, line - start


def _restore(code: str, magics: list[str]) -> str:
    out = []
    for line in code.splitlines(keepends=True):
        match = _MAGIC_LINE.match(line.rstrip("\r\n"))
        out.append(magics[int(match.group(1))] + line[len(line.rstrip("\r\n")):] if match else line)
    return "".join(out)


def _split(source: str) -> dict[int, str]:
    cells: dict[int, list[str]] = {}
    current = None
    for line in source.splitlines(keepends=True):
        match = _CELL_LINE.match(line.rstrip("\r\n"))
        if match:
            current = int(match.group(1))
            cells[current] = []
        elif current is not None:
            cells[current].append(line)
        elif line.strip():
            raise NotebookError("a fix added code before the first cell; not rewritten")
    return {number: "".join(lines) for number, lines in cells.items()}


def _layout(raw: bytes, data: dict) -> bytes:
    """The notebook serialised as nbformat writes it, in the indentation the file uses."""
    text = raw.decode("utf-8")
    indent_match = re.search(r"\n( +)\"", text)
    indent = len(indent_match.group(1)) if indent_match else (1 if "\n" in text.rstrip("\n") else None)
    ascii_only = "\\u" in text and text.isascii()
    out = json.dumps(data, indent=indent, ensure_ascii=ascii_only)
    return (out + ("\n" if text.endswith("\n") else "")).encode("utf-8")


def rebuild(nb: Notebook, fixed_source: str) -> bytes:
    """The notebook with each changed cell's code replaced; raises NotebookError where the
    file's JSON layout cannot be reproduced (then nothing is written)."""
    if _layout(nb.raw, nb.data) != nb.raw:
        raise NotebookError("the notebook's JSON layout would not be kept byte for byte; not rewritten")
    fixed = _split(fixed_source)
    if set(fixed) != set(nb.texts):
        raise NotebookError("a fix moved code across cells; not rewritten")
    data = json.loads(nb.raw.decode("utf-8"))
    for number, original in nb.texts.items():
        code = _restore(fixed[number], nb.magics)
        if not original.endswith("\n") and code.endswith("\n"):
            code = code[:-1]
        if code == original:
            continue
        cell = data["cells"][number - 1]
        cell["source"] = code.splitlines(keepends=True) if isinstance(cell.get("source"), list) else code
    return _layout(nb.raw, data)
