"""From flows to findings: the sites of one class that flows connect form one finding (a loop
over a stack, an unrolled chain, an nn.Sequential), described by its path."""

from __future__ import annotations

from collections import defaultdict

from mambafix.flow.values import Flow, Site


def components(flows: list[Flow]) -> list[list[Flow]]:
    """Flows grouped by the sites they connect (union-find), each group in source order."""
    parent: dict[Site, Site] = {}

    def find(site: Site) -> Site:
        parent.setdefault(site, site)
        while parent[site] is not site:
            parent[site] = parent[parent[site]]
            site = parent[site]
        return site

    for flow in flows:
        a, b = find(flow.source), find(flow.sink)
        if a is not b:
            parent[b] = a
    groups: dict[Site, list[Flow]] = defaultdict(list)
    for flow in flows:
        groups[find(flow.source)].append(flow)
    out = [sorted(g, key=lambda f: (f.source.order, f.sink.order)) for g in groups.values()]
    return sorted(out, key=lambda g: min(min(f.source.order, f.sink.order) for f in g))


def sites_of(group: list[Flow]) -> list[Site]:
    seen: dict[Site, None] = {}
    for flow in group:
        seen.setdefault(flow.source)
        seen.setdefault(flow.sink)
    return sorted(seen, key=lambda s: s.order)


def _short(text: str) -> str:
    return text[5:] if text.startswith("self.") else text


def _next(text: str) -> str:
    return text[:-3] + "[i+1]" if text.endswith("[i]") else text


def describe(flow: Flow) -> str:
    """`layers[i] output reaches layers[i+1] through self.dropout, no norm between`."""
    source, sink = _short(flow.source.text), _short(flow.sink.text)
    if flow.source is flow.sink:
        target = _next(sink) if sink.endswith("[i]") else f"{sink} again on the next trip"
    else:
        target = sink
    through = [s.text for s in flow.steps]
    via = f" through {', '.join(dict.fromkeys(through))}" if through else ""
    return f"{source} output reaches {target}{via}, no norm between"


def path_nodes(flow: Flow) -> list[tuple[object, str]]:
    """The statements along a flow, each with what happens there (SARIF codeFlows)."""
    out = []
    if flow.source.stmt is not None:
        out.append((flow.source.stmt, f"{_short(flow.source.text)}: an SSM layer's output (source)"))
    for step in flow.steps:
        if step.node is not None and (not out or out[-1][0] is not step.node):
            out.append((step.node, f"carried through {step.text}"))
    if flow.sink.stmt is not None:
        out.append((flow.sink.stmt, f"{_short(flow.sink.text)}: an SSM layer's input (sink), no norm on the way"))
    return out
