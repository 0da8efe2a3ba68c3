"""Evaluating calls: applying a module's transfer at a site (where sources and sinks meet), an
nn.Sequential through its elements, a function's body inline, and everything else by the data
of rules/models.toml (norm and scan functions, bounded and fresh ones), carrying by default."""

from __future__ import annotations

import libcst as cst

from mambafix.facts.builds import MODULE_RETURNING, classify
from mambafix.facts.kinds import Container, Kind
from mambafix.facts import transfers
from mambafix.flow.exprs import ExprEval
from mambafix.facts.transfer import SSM_OUT, Transfer
from mambafix.facts.transfers import element_transfer
from mambafix.flow.models import SUPER, Func, Mod, Ref
from mambafix.flow.values import NONE_V, V, flat, join, merge_paths, source_paths, union, with_step
from mambafix.syntax.names import dotted
from mambafix.syntax.nodes import code

MAX_SEQUENTIAL_TRIPS = 4
_MODULE_METHODS = ("forward", "__call__")
_LIST_METHODS = ("append", "extend", "insert", "add")
_CONTAINER_VIEWS = ("values", "children", "modules")


class CallEval(ExprEval):
    """Calls; the subclass supplies `inline` (a function's body) and the evaluator state."""

    # -- arguments --------------------------------------------------------------------------
    def arguments(self, node: cst.Call, env: dict) -> tuple[list[V], dict[str, V]]:
        args, kwargs = [], {}
        for arg in node.args:
            value = self.ev(arg.value, env)
            if arg.keyword is not None:
                kwargs[arg.keyword.value] = value
            elif arg.star == "**":
                kwargs["**"] = value
            elif arg.star == "*":
                args.append(flat(value))
            else:
                args.append(value)
        return args, kwargs

    # -- dispatch ---------------------------------------------------------------------------
    def call(self, node: cst.Call, env: dict) -> V:
        func = node.func
        if isinstance(func, cst.Attribute) and not (isinstance(func.value, cst.Name) and func.value.value == "self"
                                                    and "self" not in env) and not self.is_global_path(func, env):
            base = self.ev(func.value, env)
            args, kwargs = self.arguments(node, env)
            return self.method(node, func, base, args, kwargs, env)
        if isinstance(func, cst.Name) and func.value == "getattr" and func.value not in env and node.args:
            return self.getattr_call(node, env)
        callee = self.ev(func, env)
        args, kwargs = self.arguments(node, env)
        return self.call_value(node, callee, args, kwargs)

    def call_value(self, node: cst.Call, callee: V, args: list[V], kwargs: dict[str, V]) -> V:
        if not callee.mods:
            return self.carry(node, args, kwargs, "")
        out = None
        for target in sorted(callee.mods, key=_order):
            if isinstance(target, Mod):
                result = self.apply_mod(node, target, args, kwargs)
            elif isinstance(target, Func):
                result = self.inline(target, args, kwargs, node)
            else:
                result = self.call_ref(node, target, args, kwargs)
            out = join(out, result)
        return out if out is not None else NONE_V

    def method(self, node, func: cst.Attribute, base: V, args, kwargs, env) -> V:
        name = func.attr.value
        if SUPER in base.mods:
            return self.super_call(node, name, args, kwargs)
        if base.mods and not base.data:
            if name in _MODULE_METHODS:
                return self.call_value(node, base, args, kwargs)
            if name in MODULE_RETURNING:
                return base
            if name in _CONTAINER_VIEWS:  # `self.blocks.values()`, `.children()`: the modules it holds
                return self.iterated(base)
            if name in _LIST_METHODS and isinstance(func.value, cst.Name):
                return self.list_add(func.value.value, base, args, env)
            return self.carry(node, args, kwargs, "")  # a sub-module or a method of a module: not followed
        if name in _LIST_METHODS and isinstance(func.value, cst.Name) and (base.items is not None or not base.data):
            return self.list_add(func.value.value, base, args, env)
        return self.tensor_method(node, name, base, args, kwargs)

    def list_add(self, name: str, base: V, args, env: dict) -> V:
        value = base
        for arg in args:
            value = join(flat(value), flat(arg)) if value.items is not None or arg.items is not None else join(value, arg)
        env[name] = V(value.taint, value.deps, value.mods, steps=value.steps)
        return NONE_V

    def getattr_call(self, node: cst.Call, env: dict) -> V:
        """`getattr(self, "norm")`, `getattr(self, f"layer{i}")`: the attributes that name can be."""
        target = node.args[0].value
        key = node.args[1].value if len(node.args) > 1 else None
        if isinstance(target, cst.Name) and target.value == "self" and self.inst is not None and key is not None:
            name = self.ev(key, env).const
            if isinstance(name, str):
                found = self.inst.attr(name)
                return found if found is not None else V()
            if isinstance(key, cst.FormattedString):
                prefix = "".join(p.value for p in key.parts[:1] if isinstance(p, cst.FormattedStringText))
                mods = self.inst.matching(prefix) if prefix else []
                return V(mods=frozenset(mods)) if mods else V()
        return V()

    # -- modules ----------------------------------------------------------------------------
    def apply_mod(self, node: cst.Call, mod: Mod, args, kwargs) -> V:
        if mod.container == Container.SEQUENTIAL:
            return self.sequential(node, mod, args, kwargs)
        if mod.is_container:
            return self.carry(node, args, kwargs, "")
        if mod.transfer is None:
            return self.carry(node, args, kwargs, mod.text)
        site = None
        if mod.transfer.sinks or any(SSM_OUT in p.taint for p in mod.transfer.parts):
            site = self.ctx.site(node, mod, mod.text, self.stmt, self.loops, self.func)
        return self.apply(mod.transfer, args, kwargs, site, mod.text)

    def sequential(self, node: cst.Call, mod: Mod, args, kwargs) -> V:
        """An nn.Sequential called whole: its elements applied in order, a repeated element until
        what it passes on no longer changes."""
        value = args[0] if args else NONE_V
        if mod.elements:
            for element in mod.elements:
                value = self.apply_mod(node, element, [value], {})
            if mod.count is None and mod.stack is not None and mod.stack.contents.pattern:
                for _ in range(MAX_SEQUENTIAL_TRIPS):  # a repeated pattern of modules
                    again = value
                    for element in mod.elements:
                        again = self.apply_mod(node, element, [again], {})
                    if join(value, again) == value:
                        break
                    value = join(value, again)
            return value
        if mod.repeated is None:
            return self.carry(node, args, kwargs, mod.text)
        trips = mod.count if mod.count is not None else MAX_SEQUENTIAL_TRIPS
        out = value
        for _ in range(max(trips, 0)):
            value = self.apply_mod(node, mod.repeated, [value], {})
            if mod.count is None and join(out, value) == out:
                break
            out = value if mod.count is not None else join(out, value)
        return out

    def apply(self, transfer: Transfer, args, kwargs, site, text: str) -> V:
        bound = _bind(transfer, args, kwargs, self.facts.families.words.get("option_keywords", frozenset()))
        if transfer.ssm:
            self.ctx.saw_ssm = True
        for i in transfer.sinks:
            self.sink(bound[i], site)
            if site is not None:
                self.ctx.inputs.setdefault(site, set()).update(flat(bound[i]).deps)
        if site is not None:
            self.ctx.applied += 1
        elif transfer is transfers.NORM and bound:
            self.ctx.entry_normed.update(t for t in flat(bound[0]).taint if isinstance(t, int))
        parts = [self._part(p, bound, site, text) for p in transfer.parts]
        return V(items=tuple(parts)) if transfer.is_tuple else parts[0]

    def _part(self, part, bound: list[V], site, text: str) -> V:
        taint, deps, carried = set(), set(), []
        for t in part.taint:
            if t == SSM_OUT:
                if site is not None:
                    taint.add(site)
                continue
            value = flat(bound[t])
            taint |= value.taint
            carried.append(value)
        for d in part.deps:
            deps |= flat(bound[d]).deps
        if site is not None and SSM_OUT in part.taint:
            deps.add(("out", site))  # derived from this site's output, whatever norms follow
        out = with_step(V(frozenset(taint), frozenset(deps), steps=merge_paths(*carried)), self.stmt, text)
        if site is not None and site in taint:
            return V(out.taint, out.deps, steps=source_paths(site, out))
        return out

    def sink(self, value: V, site) -> None:
        """An SSM input: every source whose output reaches it is a flow; every parameter of the
        summarised method that reaches it makes that parameter a sink."""
        value = flat(value)
        for label in value.taint:
            if isinstance(label, int):
                self.ctx.entry_sinks.add(label)
            elif site is not None and not (label.primitive and site.primitive):
                self.ctx.flow(label, site, value.path(label))

    def super_call(self, node, name: str, args, kwargs) -> V:
        base = self.base_transfer() if name in _MODULE_METHODS else None
        if base is None:
            return self.carry(node, args, kwargs, "")
        site = self.ctx.site(node, None, "super().forward", self.stmt, self.loops, self.func)
        return self.apply(base, args, kwargs, site, "")

    # -- names bound outside the method -----------------------------------------------------
    def global_name(self, name: str) -> V:
        facts = self.facts
        if name in facts.functions:
            return V(mods=frozenset({Func(facts.functions[name])}))
        return V(mods=frozenset({Ref(cst.Name(name))}))

    def call_ref(self, node: cst.Call, ref: Ref, args, kwargs) -> V:
        if ref is SUPER:
            return V(mods=frozenset({SUPER}))
        facts, fam = self.facts, self.facts.families
        names = facts.resolver.candidates(ref.expr)
        if names[:1] == ["super"]:
            return V(mods=frozenset({SUPER}))
        if fam.apply_wrappers.match_any(names) and args:  # checkpoint(layer, x, ...)
            return self.call_value(node, args[0], args[1:], {k: v for k, v in kwargs.items() if k != "use_reentrant"})
        if fam.norm_functions.match_any(names):
            return self.apply(transfers.NORM, args[:1], {}, None, "")
        if fam.listed("ssm_functions", names):
            return self.scan(node, args, kwargs)
        if fam.listed("bounded_functions", names):
            return self.apply(transfers.BOUNDED, args, kwargs, None, "")
        if fam.listed("fresh_functions", names):
            return NONE_V
        first = flat(args[0]) if args else NONE_V
        if fam.listed("statistic_functions", names):
            return V(first.taint, first.deps, stat=first.taint | first.stat)
        if fam.listed("inverse_functions", names):
            return V(first.taint, first.deps, inv=first.stat)
        if fam.listed("root_functions", names):
            return V(first.taint, first.deps, stat=first.stat, inv=first.inv)
        last = names[0].rsplit(".", 1)[-1] if names else ""
        if last[:1].isupper() or (isinstance(ref.expr, cst.Name) and ref.expr.value in facts.classes):
            return self.construct(node, ref, names)
        if fam.named_like_a_norm(names, function=True):  # an unseen function named as a norm
            return self.apply(transfers.NORM, args[:1], {}, None, "")
        if isinstance(node, cst.Call) and self.given_a_norms_weight(node):
            # a fused kernel given a norm module's own weight applies that norm
            # (`fused_add_rms_norm(x, residual, self.norm.weight, eps)`, `kernel(..., rms_weight=self.norm.weight)`)
            data = args[:1] or [union([v for k, v in kwargs.items() if k != "**"])]
            return self.apply(transfers.NORM, data, {}, None, "")
        return self.carry(node, args, kwargs, last)

    def given_a_norms_weight(self, node: cst.Call) -> bool:
        """Whether an argument is `self.<norm>.weight` (or `.bias`) of a norm module of the class."""
        if self.inst is None:
            return False
        for arg in node.args:
            value = arg.value
            if not (isinstance(value, cst.Attribute) and value.attr.value in ("weight", "bias")):
                continue
            inner = value.value
            if not (isinstance(inner, cst.Attribute) and isinstance(inner.value, cst.Name)
                    and inner.value.value == "self"):
                continue
            held = self.inst.attr(inner.attr.value)
            mods = [m for m in (held.mods if held is not None else ()) if isinstance(m, Mod)]
            if mods and all(m.transfer is not None and transfers.kind_of(m.transfer) == Kind.NORM for m in mods):
                return True
        return False

    def construct(self, node: cst.Call, ref: Ref, names: list[str]) -> V:
        """A module built inside the method (`nn.LayerNorm(d)(x)`): what its class does."""
        fam = self.facts.families
        call = node if node.func is ref.expr else cst.Call(func=ref.expr, args=node.args)
        if fam.listed("bounded_modules", names):
            transfer = transfers.BOUNDED
        else:
            transfer = element_transfer(classify(self.facts, call))
        return V(mods=frozenset({Mod(code(ref.expr), transfer, cls=None)}))

    def scan(self, node: cst.Call, args, kwargs) -> V:
        """A selective scan (an SSM function, or data meeting an SSM's own parameters)."""
        text = (dotted(node.func) if isinstance(node, cst.Call) else None) or "the scan"
        site = self.ctx.site(node, None, text, self.stmt, self.loops, self.func, primitive=True)
        self.ctx.saw_ssm = True
        self.sink(union([*args, *kwargs.values()]), site)
        return V(frozenset({site}), steps=((site, ()),))

    def kernel_meets(self, node, operands: list[V]) -> V:
        """An operation on a value derived from an SSM's own parameters: with data among its
        operands it is the scan itself; without, it stays a parameter-derived value."""
        if not any(v.data for v in operands):
            return V(kernel=True)
        return self.scan(node, [v for v in operands if v.data], {})

    # -- tensors and everything else --------------------------------------------------------
    def tensor_method(self, node, name: str, base: V, args, kwargs) -> V:
        fam = self.facts.families
        if base.kernel or any(a.kernel for a in args):
            return self.kernel_meets(node, [base, *args])
        if fam.word("fresh_methods", name):
            return NONE_V
        if fam.word("bounded_methods", name):
            return V(deps=base.deps)
        if fam.word("statistic_methods", name):
            return V(base.taint, base.deps, stat=base.taint | base.stat, steps=base.steps)
        if fam.word("inverse_methods", name):
            return V(base.taint, base.deps, inv=base.stat, steps=base.steps)
        if fam.word("root_methods", name):
            return V(base.taint, base.deps, stat=base.stat, inv=base.inv, steps=base.steps)
        if (base.stat or base.inv) and fam.word("scale_keeping_methods", name) \
                and not any(v.data for v in (*args, *kwargs.values())):  # `var.add(eps)`, `rms.to(dtype)`
            return V(base.taint, base.deps, stat=base.stat, inv=base.inv, steps=base.steps)
        if not base.data and not any(a.data for a in args):
            return NONE_V
        return with_step(union([base, *args, *kwargs.values()]), self.stmt, f".{name}")

    def carry(self, node, args, kwargs, text: str) -> V:
        values = [*args, *kwargs.values()]
        if any(v.kernel for v in values):
            return self.kernel_meets(node, values)
        return with_step(union(values), self.stmt, text)


def _bind(transfer: Transfer, args: list[V], kwargs: dict[str, V], options: frozenset) -> list[V]:
    """The call's values for the transfer's parameters, by position and by keyword; a data input
    given by a keyword of another name (`layer(hidden_states=x)`) is the first keyword that is
    not an option."""
    if transfer.variadic:
        return [union([*args, *(v for k, v in kwargs.items() if k != "**")])]
    bound: list[V] = [NONE_V] * len(transfer.params)
    for i, value in enumerate(args[: len(bound)]):
        bound[i] = value
    named = False
    for key, value in kwargs.items():
        if key in transfer.params:
            bound[transfer.params.index(key)] = value
            named = named or transfer.params.index(key) == 0
    if bound and not args and not named:
        bound[0] = next((v for k, v in kwargs.items() if k != "**" and k not in options and k not in transfer.params),
                        NONE_V)
    return bound


def _order(target) -> tuple:
    if isinstance(target, Mod):
        return (0, target.text)
    if isinstance(target, Func):
        return (1, target.node.name.value)
    return (2, code(target.expr) if target.expr is not None else "")
