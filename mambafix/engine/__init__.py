"""Running checks: one file (`file`: parse, facts, enabled checks, noqa, positions) and a project
(`project`: discovery, prefilter, cache, process pool, cross-file rounds, and
`find_model_classes` for smoke). libcst loads only when a file needs parsing."""
