"""The generic edit executor: one transformer that carries out an EditPlan (calls and loops
rewritten, statements inserted after others, expressions replaced, statements removed with
their own comments and the blocks they leave empty, one import added)."""

from __future__ import annotations

import libcst as cst

from mambafix.syntax.edits import EditPlan
from mambafix.syntax.names import Family


def is_pure_test(expr: cst.BaseExpression, pure: Family, resolver) -> bool:
    ok = [True]

    class _V(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> None:
            names = resolver.candidates(n.func) or []
            if isinstance(n.func, cst.Attribute):
                names = names + [f"x.{n.func.attr.value}"]
            if not pure.match_any(names):
                ok[0] = False

        def visit_NamedExpr(self, n) -> None:
            ok[0] = False

        def visit_Await(self, n) -> None:
            ok[0] = False

        def visit_Yield(self, n) -> None:
            ok[0] = False

    expr.visit(_V())
    return ok[0]


_PASS = cst.SimpleStatementLine([cst.Pass()])


class FixTransformer(cst.CSTTransformer):
    """Carries out an EditPlan in one pass over the module it was planned on."""

    def __init__(self, plan: EditPlan, pure: Family, resolver) -> None:
        super().__init__()
        self.plan = plan
        self.pure = pure
        self.resolver = resolver
        # ids of nodes made here; the nodes are kept alive in _keep so that no id is reused
        self.emptied: set[int] = set()
        self.doomed: set[int] = set()
        self._keep: list = []

    def _mark(self, marks: set[int], node):
        marks.add(id(node))
        self._keep.append(node)
        return node

    def on_leave(self, original, updated):
        result = super().on_leave(original, updated)
        rewrite = self.plan.expr_rewrites.get(id(original))
        if rewrite is not None and isinstance(result, cst.CSTNode):
            result = rewrite(result)
        extra = self.plan.inserts.get(id(original))
        if extra and isinstance(result, cst.FlattenSentinel):
            return cst.FlattenSentinel([*result.nodes, *extra])
        if extra and isinstance(result, cst.CSTNode):
            return cst.FlattenSentinel([result, *extra])
        return result

    def leave_Call(self, original: cst.Call, updated: cst.Call):
        rewrite = self.plan.call_rewrites.get(id(original))
        result = rewrite(updated) if rewrite else updated
        value = self.plan.value_rewrites.get(id(original))
        return value if value is not None else result

    def leave_For(self, original: cst.For, updated: cst.For):
        rewrite = self.plan.for_rewrites.get(id(original))
        if rewrite is None:
            return updated
        target, iter_expr = rewrite
        return updated.with_changes(target=target, iter=iter_expr)

    # -- removing prints, adding statements --------------------------------------------------
    # A statement to delete is marked "doomed" and dropped by its enclosing block, which can
    # move the comment lines above it onto the next statement that stays.
    def _rebuilt(self, original, updated):
        """The line's small statements minus those removed, plus those planned after them: (the
        statements that stay on the line, those to put on lines of their own after it), or None
        when the line is unchanged."""
        removals, inserts = self.plan.removals, self.plan.small_inserts
        if not any(id(o) in removals or id(o) in inserts for o in original.body):
            return None
        body: list = []
        for o, s in zip(original.body, updated.body):
            if id(o) in removals:
                continue
            body.append(s)
            body.extend(inserts.get(id(o), []))
        kept = [s for o, s in zip(original.body, updated.body) if id(o) not in removals]
        cut = len(body)
        if kept and body[-1] is not kept[-1]:  # what follows the last statement kept gets lines of its own
            cut = next(i for i, s in enumerate(body) if s is kept[-1]) + 1
        line, after = body[:cut], body[cut:]
        return _separated(line), [s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT) for s in after]

    def leave_SimpleStatementLine(self, original, updated):
        rebuilt = self._rebuilt(original, updated)
        if rebuilt is None:
            return updated
        line, after = rebuilt
        if not line:
            return self._mark(self.doomed, updated)
        result = updated.with_changes(body=line)
        return cst.FlattenSentinel([result, *(cst.SimpleStatementLine([s]) for s in after)]) if after else result

    def leave_SimpleStatementSuite(self, original, updated):
        rebuilt = self._rebuilt(original, updated)
        if rebuilt is None:
            return updated
        line, after = rebuilt
        body = line + after  # a one-line block keeps everything on its line
        if not body:
            return self._mark(self.emptied, updated.with_changes(body=[cst.Pass()]))
        return updated.with_changes(body=_separated(body))

    def _drop_doomed(self, body) -> tuple[list, list]:
        """The statements that stay. A removed statement takes its own comment lines (those directly
        above it, no blank line between) with it; the lines above those (blank lines, a comment
        that belongs to what follows) move onto the next statement that stays."""
        kept, pending = [], []
        for stmt in body:
            if id(stmt) in self.doomed:
                pending.extend(_not_own(stmt.leading_lines))
                continue
            if pending:
                stmt = stmt.with_changes(leading_lines=_join_lines(pending, list(stmt.leading_lines)))
                pending = []
            kept.append(stmt)
        return kept, pending

    def leave_IndentedBlock(self, original, updated):
        if not any(id(s) in self.doomed for s in updated.body):
            return updated
        body, pending = self._drop_doomed(updated.body)
        if not body:
            return self._mark(self.emptied, updated.with_changes(body=[_PASS], footer=[*pending, *updated.footer]))
        return updated.with_changes(body=body, footer=[*pending, *updated.footer])

    def leave_If(self, original: cst.If, updated: cst.If):
        orelse = updated.orelse
        if isinstance(orelse, cst.Else) and id(orelse.body) in self.emptied:
            updated = updated.with_changes(orelse=None)
            orelse = None
        if id(updated.body) not in self.emptied or not is_pure_test(updated.test, self.pure, self.resolver):
            return updated
        if orelse is None:
            return self._mark(self.doomed, updated)
        if isinstance(orelse, cst.If):
            return orelse.with_changes(leading_lines=updated.leading_lines)
        if isinstance(orelse.body, cst.IndentedBlock):
            body = list(orelse.body.body)
        else:
            body = [cst.SimpleStatementLine(list(orelse.body.body))]
        body[0] = body[0].with_changes(leading_lines=[*updated.leading_lines, *body[0].leading_lines])
        return cst.FlattenSentinel(body)

    def leave_Module(self, original: cst.Module, updated: cst.Module):
        if any(id(s) in self.doomed for s in updated.body):
            body, pending = self._drop_doomed(updated.body)
            updated = updated.with_changes(body=body, footer=[*pending, *updated.footer])
        if self.plan.import_needed is None:
            return updated
        body = list(updated.body)
        position = 0
        for i, stmt in enumerate(body):
            if isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body):
                position = i + 1
            elif i == 0 and isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
                position = 1
        body.insert(position, cst.parse_statement(self.plan.import_needed + "\n"))
        return updated.with_changes(body=body)


def _separated(body: list) -> list:
    """Small statements on one line: each but the last ends in a semicolon (its own, where it had
    one), the last in none."""
    semi = cst.Semicolon(whitespace_after=cst.SimpleWhitespace(" "))
    out = []
    for i, s in enumerate(body):
        if i == len(body) - 1:
            out.append(s.with_changes(semicolon=cst.MaybeSentinel.DEFAULT))
        else:
            out.append(s if isinstance(s.semicolon, cst.Semicolon) else s.with_changes(semicolon=semi))
    return out


def _not_own(lines) -> list:
    """The leading lines of a removed statement minus its own comment block (the run of comment
    lines directly above it)."""
    end = len(lines)
    while end > 0 and lines[end - 1].comment is not None:
        end -= 1
    return list(lines[:end])


def _join_lines(moved: list, own: list) -> list:
    """Lines moved from removed statements before the next one's own, without doubling a blank gap."""
    while moved and moved[-1].comment is None and own and own[0].comment is None:
        moved.pop()
    return [*moved, *own]
