"""What mambafix understands about a file, computed once per file and read by every check:
which names stand for which classes, what each class builds in `__init__` (`builds`), how its
methods apply those modules (`uses`), and how a class behaves when used as a layer elsewhere
(`summaries`, shared across files). Kinds, containers and shapes are enums (`kinds`)."""
