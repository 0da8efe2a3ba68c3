"""A finding's fix, planned from its path: a norm at each source's output, written where the path
runs (the loop over the stack, the unrolled chain, the nn.Sequential). The plan is a `StackUse`
(the shape apply rewrites); where the path runs through code apply cannot rewrite correctly
the plan says why (`blocked`), and the finding has no automatic fix."""

from __future__ import annotations

import libcst as cst

from mambafix.facts.applications import Application, Bindings, StackUse
from mambafix.facts.kinds import Container, Kind, Role, Shape
from mambafix.facts import transfers
from mambafix.flow.groups import describe, path_nodes, sites_of
from mambafix.flow.values import Flow, Site
from mambafix.syntax.names import dotted
from mambafix.syntax.nodes import calls_with_context, names_in, range_count, self_attr
from mambafix.syntax.walk import walk


def plan(facts, cls: cst.ClassDef, group: list[Flow]) -> StackUse:
    """The finding a group of flows makes: where it is reported, what it counts, and the shape of
    the stack (the fix itself is planned from the flows, checks/norm_plans.py)."""
    sites = sites_of(group)
    flow = next((f for f in group if f.source is not f.sink and f.source.call is f.sink.call), group[0])
    extra = {"flows": tuple(group), "path": describe(flow), "path_nodes": tuple(path_nodes(flow))}
    stackless = next((s for s in sites if s.mod is None or s.mod.stack is None), None)
    if stackless is not None:
        return _unplanned(cls, sites, extra)
    parents = {id(s.mod.parent): s.mod.parent for s in sites if s.mod.parent is not None}
    if len(parents) == 1 and all(s.mod.parent is not None for s in sites) \
            and next(iter(parents.values())).container == Container.SEQUENTIAL:
        return _sequential(cls, sites, extra)
    loop = _carrying_loop(group, sites)
    apps = tuple(_application(facts, s) for s in sites)
    stacks = tuple(dict.fromkeys(s.mod.stack for s in sites))
    if loop is None:  # a chain: of single applications, or of loops one after the other
        count, text = _stacks_count(stacks) if any(s.loops for s in sites) else (len(apps), str(len(apps)))
        return StackUse(Shape.CHAIN, cls, stacks, apps, apps[0].stmt or sites[0].stmt, count, text, **extra)
    bindings = loop_bindings(facts, cls, loop)
    if all(s.mod.parent is None for s in sites):
        count, text = range_count(loop.iter, {}) if isinstance(loop, cst.For) else (None, None)
        total = count * len(apps) if count is not None else None
        return StackUse(Shape.TIED, cls, stacks, apps, loop, total, str(total) if total is not None else text or "several",
                        loop=loop if isinstance(loop, cst.For) else None, bindings=bindings, **extra)
    statements = {id(a.stmt) for a in apps}
    compound = len(stacks) > 1 and len(statements) == 1
    count, text = _stacks_count(stacks[:1] if compound else stacks)
    shape = Shape.INDEX_LOOP if any(isinstance(a.callee, cst.Subscript) for a in apps) else Shape.LOOP
    first = tuple({id(a.call): a for a in apps if a.attr == stacks[0].attr}.values())  # one per call
    return StackUse(shape, cls, stacks if not compound else stacks[:1], first if compound else apps, loop, count, text,
                    loop=loop if isinstance(loop, cst.For) else None, bindings=bindings, compound=compound,
                    partners=stacks[1:] if compound else (), **extra)


def _stacks_count(stacks) -> tuple[int | None, str]:
    """The layers of several stacks applied one after the other (of one, for a compound step's
    leading stack alone is counted by the caller)."""
    counted = [_stack_count(s) for s in stacks]
    if len(counted) == 1:
        return counted[0]
    if all(c is not None for c, _ in counted):
        total = sum(c for c, _ in counted)
        return total, str(total)
    return None, " + ".join(t for _, t in counted)


def _unplanned(cls, sites: list[Site], extra: dict) -> StackUse:
    """Sites some of which apply modules __init__ does not build (a local list, a parameter)."""
    node = next((s.stmt for s in sites if s.stmt is not None), None)
    return StackUse(Shape.CHAIN, cls, (), (), node, len(sites), str(len(sites)), **extra)


def _sequential(cls, sites: list[Site], extra: dict) -> StackUse:
    parent = sites[0].mod.parent
    stack = parent.stack
    site = sites[0]
    app = Application(site.stmt, site.call, stack.attr, "", False, True)
    run = stack.longest_mamba_run()
    if stack.repeated is not None and stack.repeated.kind == Kind.MAMBA:
        count, text = stack.count, stack.count_text or "several"
    else:
        count, text = run, str(run)
    return StackUse(Shape.SEQUENTIAL, cls, (stack,), (app,), stack.define or site.stmt, count, text, **extra)


def _keyed(facts, stack) -> bool:
    value = stack.value
    return isinstance(value, cst.Call) and (facts.resolver.qualify(value.func) or "").endswith("ModuleDict")


def _within(node, stmt) -> bool:
    """Whether `stmt` is one of the statements inside `node` (a loop)."""
    return any(n is stmt for n in walk(node))


def _stack_count(stack) -> tuple[int | None, str]:
    if stack.elements is not None or stack.contents.pattern:
        run = stack.longest_mamba_run()
        return run, str(run)
    return stack.count, stack.count_text or "several"


def _carrying_loop(group: list[Flow], sites: list[Site]):
    """The innermost loop around every site whose back edge some flow takes (the same call on a
    later trip, or a site reached again from one after it), or None for a straight chain."""
    common = sites[0].loops
    for site in sites[1:]:
        n = 0
        while n < min(len(common), len(site.loops)) and common[n] is site.loops[n]:
            n += 1
        common = common[:n]
    if not common:
        return None
    around = any(f.sink.order <= f.source.order or f.sink.call is f.source.call for f in group)
    return common[-1] if around else None


def _application(facts, site: Site) -> Application:
    call = site.call
    through = bool(call.args) and facts.families.apply_wrappers.match_any(facts.resolver.candidates(call.func)) is not None
    positional = [a for a in call.args if a.keyword is None]
    index = 1 if through else 0
    data = positional[index].value if len(positional) > index else None
    stmt = site.stmt
    assigned = _assigned(stmt)
    var = ""
    if isinstance(data, cst.Name):
        var = data.value
    elif data is not None and assigned and assigned in names_in(data):
        var = assigned
    plain = assigned is not None and next((p for c, p in calls_with_context(stmt) if c is call), True)
    attr = site.mod.stack.attr
    return Application(stmt, call, attr, var, through, plain)


def _assigned(stmt) -> str | None:
    """The plain name a statement assigns; None for a tuple target or no assignment."""
    if isinstance(stmt, cst.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0].target, cst.Name):
        return stmt.targets[0].target.value
    if isinstance(stmt, cst.AugAssign) and isinstance(stmt.target, cst.Name):
        return stmt.target.value
    if isinstance(stmt, cst.Return):
        return ""
    return None


def loop_bindings(facts, cls: cst.ClassDef, loop) -> Bindings:
    """What each loop variable stands for (a stack's layers, its norms, a position)."""
    if not isinstance(loop, cst.For):
        return Bindings()
    return _bind(facts.init_info(cls), loop.target, loop.iter)


def _bind(info, target: cst.BaseExpression, iter_expr: cst.BaseExpression) -> Bindings:
    func_name = dotted(iter_expr.func) if isinstance(iter_expr, cst.Call) else None
    if isinstance(iter_expr, cst.Call) and func_name in ("reversed", "list", "iter", "tuple") and iter_expr.args:
        return _bind(info, target, iter_expr.args[0].value)
    if isinstance(iter_expr, cst.Subscript) and self_attr(iter_expr.value):
        return _bind(info, target, iter_expr.value)
    attr = self_attr(iter_expr)
    if attr is not None and isinstance(target, cst.Name):
        stack = info.stacks.get(attr)
        if stack is None:
            return Bindings()
        return Bindings(((target.value, Role.NORM if stack.kind() == Kind.NORM else Role.ELEMENT, attr),))
    if func_name == "enumerate" and iter_expr.args and isinstance(target, cst.Tuple) and len(target.elements) == 2:
        first = target.elements[0].value
        index = Bindings(((first.value, Role.INDEX, None),)) if isinstance(first, cst.Name) else Bindings()
        return index.merged(_bind(info, target.elements[1].value, iter_expr.args[0].value))
    if func_name == "zip" and isinstance(target, cst.Tuple) and len(target.elements) == len(iter_expr.args):
        out = Bindings()
        for element, arg in zip(target.elements, iter_expr.args):
            out = out.merged(_bind(info, element.value, arg.value))
        return out
    if func_name == "range" and isinstance(target, cst.Name):
        over = None
        for arg in iter_expr.args:  # range(len(self.layers)) iterates that stack
            v = arg.value
            if isinstance(v, cst.Call) and dotted(v.func) == "len" and v.args and self_attr(v.args[0].value):
                over = self_attr(v.args[0].value)
        return Bindings(((target.value, Role.INDEX, None),), over)
    return Bindings()



def residual_uses(facts, cls: cst.ClassDef, result) -> list[StackUse]:
    """MF002's facts: loops whose SSM layer is fed its own previous output (a stack applied in
    sequence) only through norms, and whose step has no path around the layer (no skip)."""
    flowed = {f.sink for f in result.flows}
    out = []
    for site in result.sites:
        mod = site.mod
        if site.primitive or mod is None or mod.stack is None or site in flowed or not site.loops:
            continue
        if mod.transfer is None or transfers.kind_of(mod.transfer) != Kind.MAMBA:
            continue
        loop = site.loops[-1]
        inputs = result.inputs.get(site, set())
        if ("out", site) not in inputs or not isinstance(loop, cst.For):
            continue
        fed = [d[2] for d in inputs if isinstance(d, tuple) and d[0] == "head" and d[1] == id(loop)]
        if not fed or any(result.skips.get((id(loop), name)) for name in fed):
            continue
        app = _application(facts, site)
        stack = mod.stack
        shape = Shape.TIED if mod.parent is None else (
            Shape.INDEX_LOOP if isinstance(app.callee, cst.Subscript) else Shape.LOOP)
        count, text = _stack_count(stack) if mod.parent is not None else (None, "several")
        out.append(StackUse(shape, cls, (stack,), (app,), loop, count, text, normalized=True, residual=False,
                            loop=loop, bindings=loop_bindings(facts, cls, loop)))
    return out
