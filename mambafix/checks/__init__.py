"""The rules: one module per rule (`mf001_*.py` ...), each a `Check` (see `base`) that reads a
file's facts and yields diagnostics with their fix. `registry` maps codes to checks and is
matched against rules/*.toml by a test. A new rule is rules/MF00N.toml, one module here and one
registry line."""
