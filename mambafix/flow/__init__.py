"""MF001's data-flow analysis: where an SSM layer's unbounded output reaches another SSM layer's
input with no normalization between.

Sources are applications of SSM layers (their outputs), sinks their data inputs, barriers the
normalizations; everything else carries a value on. `values` is the abstract domain, `models`
what a module or function does to it (summaries, standard models and the data of
rules/models.toml), `interp`, `loops`, `calls` and `exprs` evaluate a method over that domain, `classes`
summarises the classes of a file bottom-up and collects each class's flows, `groups` turns the
flows into findings with their paths and `plans` plans each one's fix from its path.
"""
