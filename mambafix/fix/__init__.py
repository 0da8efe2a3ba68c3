"""`mambafix apply`: a generic executor of edit plans (`executor`) and the apply loop (`apply`:
passes until nothing changes, round-trip and compile checks, atomic writes)."""
