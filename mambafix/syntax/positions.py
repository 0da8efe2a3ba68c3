"""Line and column of statements, without libcst's PositionProvider.

PositionProvider costs about two parses. Statements appear in the same depth-first
source order in libcst's tree and in the standard library's `ast` tree, so one cheap
`ast.parse` of the same bytes gives every statement's position by zipping the two orders.
The fallback, where the two disagree, is PositionProvider itself.
"""

from __future__ import annotations

import ast

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from mambafix.syntax.walk import statement_order


def cst_statement_order(module: cst.Module) -> list[cst.CSTNode]:
    """Small statements and compound statements, in the order ast_statement_order lists them."""
    out: list[cst.CSTNode] = []
    for s in statement_order(module):
        if isinstance(s, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
            out.extend(s.body)
        else:
            out.append(s)
    return out


def ast_statement_order(tree: ast.Module) -> list[ast.stmt]:
    out: list[ast.stmt] = []

    def visit(stmts) -> None:
        for s in stmts:
            out.append(s)
            if isinstance(s, ast.If):
                visit(s.body)
                visit(s.orelse)
            elif isinstance(s, (ast.For, ast.AsyncFor, ast.While)):
                visit(s.body)
                visit(s.orelse)
            elif isinstance(s, (ast.With, ast.AsyncWith, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(s.body)
            elif isinstance(s, (ast.Try, getattr(ast, "TryStar", ast.Try))):
                visit(s.body)
                for h in s.handlers:
                    visit(h.body)
                visit(s.orelse)
                visit(s.finalbody)
            elif isinstance(s, ast.Match):
                for case in s.cases:
                    visit(case.body)

    visit(tree.body)
    return out


def statement_positions(module: cst.Module, source: bytes, text_lines: list[str], wanted: list[cst.CSTNode]) -> dict[int, tuple[int, int]]:
    """id(node) -> (line, column), both 1-based, for statement nodes in `wanted`."""
    wanted_ids = {id(n) for n in wanted}
    try:
        tree = ast.parse(source)
        cst_order = cst_statement_order(module)
        ast_order = ast_statement_order(tree)
        if len(cst_order) == len(ast_order):
            out = {}
            for node, anode in zip(cst_order, ast_order):
                if id(node) in wanted_ids:
                    text = text_lines[anode.lineno - 1] if anode.lineno - 1 < len(text_lines) else ""
                    col = len(text.encode("utf-8")[: anode.col_offset].decode("utf-8", errors="replace")) + 1
                    out[id(node)] = (anode.lineno, col)
            if len(out) == len(wanted_ids):
                return out
    except (SyntaxError, ValueError, RecursionError):
        pass
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return {id(n): (positions[n].start.line, positions[n].start.column + 1) for n in wanted if n in positions}
