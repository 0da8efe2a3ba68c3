"""MF001's data-flow analysis: where an SSM layer's unbounded output reaches another SSM layer's
input with no normalization between.

Sources are applications of SSM layers (their outputs), sinks their data inputs, barriers the
normalizations; everything else carries a value on. `values` is the abstract domain, `models`
the modules and functions a call can run (what each does to a value is
`mambafix.facts.transfers`), `interp`, `loops`, `calls` and `exprs` evaluate a method over that
domain, `classes` summarises the classes of a file bottom-up and collects each class's flows,
`groups` turns the flows into findings with their paths and `plans` plans each one's fix from its
path. `file_facts` is one file's facts and flows together, computed once and read by every check.
"""
