"""The stability probe (`mambafix smoke`). Every module here but `targets` imports torch: never import them from check/apply."""
