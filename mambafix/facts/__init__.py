"""What mambafix knows about a file's classes without following data, read by the data flow
(`mambafix.flow`, which never runs the other way: facts imports nothing of flow): which names
stand for which classes, what each class builds in `__init__` (`builds`, `init_scan`, read at the
constructor's defaults), how a class behaves when used as a layer elsewhere (`summaries`,
shared across files through the index, matched to names by lookup in `naming`, read bottom-up
past a fixed nesting in the order `order` gives, and `installed` for packages on sys.path), and what
modules and functions do to a value (`transfer`, `transfers`, and `families`: rules/*.toml as
matchers). Kinds, containers and shapes are enums (`kinds`)."""
