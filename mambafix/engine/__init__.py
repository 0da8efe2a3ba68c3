"""Running checks: one file (`file`: parse, facts, enabled checks, noqa, positions) and a project
(`project`: discovery, prefilter, cache, process pool, and `find_model_classes` for smoke; the
files as `sources` holds them, without their bytes; the `cache` of results and file status; the
cross-file `rounds`, which ask the class index by lookup, with `imports` reading what names a
file can look up from its bytes; the last run's `outcome`, which spares a warm run the rounds).
libcst loads only when a file needs parsing."""
