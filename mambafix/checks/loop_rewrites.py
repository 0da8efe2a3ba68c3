"""Rewriting a `for` loop over a stack so that it also binds each layer's norm:
`for layer in self.layers` -> `for layer, norm in zip(self.layers, self.norms)`, through
enumerate, zip and reversed."""

from __future__ import annotations

import libcst as cst

from mambafix.syntax.names import dotted
from mambafix.syntax.nodes import self_attr
from mambafix.syntax.walk import walk


def enclosing_function(cls: cst.ClassDef, node: cst.CSTNode) -> cst.FunctionDef | None:
    for stmt in cls.body.body:
        if isinstance(stmt, cst.FunctionDef) and any(n is node for n in walk(stmt)):
            return stmt
    return None


def _iterates(expr: cst.BaseExpression, attr: str) -> bool:
    if self_attr(expr) == attr:
        return True
    if isinstance(expr, cst.Call) and dotted(expr.func) in ("reversed", "list", "iter", "tuple") and expr.args:
        return _iterates(expr.args[0].value, attr)
    if isinstance(expr, cst.Subscript):
        return self_attr(expr.value) == attr
    return False


def _replace_attr(expr: cst.BaseExpression, attr: str, new_attr: str) -> cst.BaseExpression:
    class _Replace(cst.CSTTransformer):
        def leave_Attribute(self, original, updated):
            if self_attr(original) == attr:
                return updated.with_changes(attr=cst.Name(new_attr))
            return updated

    return expr.visit(_Replace())


def rewrite_for(target, iter_expr, attr: str, norms: str, var: str):
    """New (target, iter) that also binds `var` to the norm of each layer, or None."""
    norm_name = cst.Name(var)
    if _iterates(iter_expr, attr) and isinstance(target, cst.Name):
        zipped = cst.Call(cst.Name("zip"), [cst.Arg(iter_expr), cst.Arg(_replace_attr(iter_expr, attr, norms))])
        return cst.Tuple([cst.Element(target), cst.Element(norm_name)], lpar=[], rpar=[]), zipped
    func = dotted(iter_expr.func) if isinstance(iter_expr, cst.Call) else None
    if func == "enumerate" and isinstance(target, cst.Tuple) and len(target.elements) == 2 and iter_expr.args:
        inner = rewrite_for(target.elements[1].value, iter_expr.args[0].value, attr, norms, var)
        if inner is None:
            return None
        new_target, new_iter = inner
        new_target = new_target.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        elements = [target.elements[0], target.elements[1].with_changes(value=new_target)]
        return target.with_changes(elements=elements), iter_expr.with_changes(
            args=[iter_expr.args[0].with_changes(value=new_iter), *iter_expr.args[1:]])
    if func == "zip" and isinstance(target, cst.Tuple) and len(target.elements) == len(iter_expr.args):
        for element, arg in zip(target.elements, iter_expr.args):
            if _iterates(arg.value, attr) and isinstance(element.value, cst.Name):
                last = target.elements[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                elements = [*target.elements[:-1], last, cst.Element(norm_name)]
                args = list(iter_expr.args)
                args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                args.append(cst.Arg(_replace_attr(arg.value, attr, norms)))
                return target.with_changes(elements=elements), iter_expr.with_changes(args=args)
    return None
