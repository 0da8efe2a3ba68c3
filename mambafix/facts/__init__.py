"""What mambafix understands about a file, computed once per file and read by every check:
which names stand for which classes, what each class builds in `__init__` (`builds`,
`init_scan`, read at the constructor's defaults), how a class behaves when used as a layer
elsewhere (`summaries`, shared across files, and `installed` for packages on sys.path), and its
data flow (`mambafix.flow`, whose findings `file_facts` plans as fixes). Kinds, containers and
shapes are enums (`kinds`)."""
