"""What one analysis run shares: the file's facts, the sites made so far, the flows found, the
sinks the method being summarised has, and the budget that bounds the work on one file."""

from __future__ import annotations

import time

from mambafix.flow.values import Flow, Site

MAX_STEPS = 400_000  # evaluation steps for one file: a pathological file stops here
MAX_SECONDS = 10.0  # and, whatever the steps, after this long
MAX_DEPTH = 6  # nested inlined calls


class FlowBudget(Exception):
    """The analysis of one method ran out of budget: that method gives no findings."""


class Budget:
    """The work one file may take: evaluation steps and seconds, shared by all its classes."""

    def __init__(self, max_steps: int = MAX_STEPS, max_seconds: float = MAX_SECONDS) -> None:
        self.max_steps = max_steps
        self.steps = 0
        self.deadline = time.monotonic() + max_seconds

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise FlowBudget(f"more than {self.max_steps} evaluation steps")
        if self.steps & 1023 == 0 and time.monotonic() > self.deadline:
            raise FlowBudget("the file's time bound was reached")


class Context:
    """One class's analysis: its sites and flows, and what the method being summarised has."""

    def __init__(self, facts, budget: Budget) -> None:
        self.facts = facts
        self.budget = budget
        self.tick = budget.tick
        self.sites: dict[tuple, Site] = {}
        self.flows: dict[tuple, Flow] = {}
        self.entry_sinks: set[int] = set()  # the summarised method's parameters that reach a sink
        self.saw_ssm = False  # an SSM layer (or scan) was applied
        self.entry_normed: set[int] = set()  # the summarised method's parameters that reach a norm
        self.applied = 0  # applications of SSM layers evaluated so far
        self.inputs: dict[Site, set] = {}  # what each site's input derives from (deps markers)
        self.skips: dict[tuple, bool] = {}  # (loop id, name): the loop's step carries the name around its layers

    def site(self, call, mod, text: str, stmt, loops: tuple, func, primitive: bool = False) -> Site:
        key = (id(call), text)  # the alternatives one attribute may hold are one site
        site = self.sites.get(key)
        if site is None:
            site = self.sites[key] = Site(call, stmt, text, mod, loops, func, primitive, len(self.sites))
        return site

    def flow(self, source: Site, sink: Site, steps: tuple) -> None:
        key = (source, sink)
        if key not in self.flows:
            self.flows[key] = Flow(source, sink, steps)
