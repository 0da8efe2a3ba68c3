"""The stability probe (`mambafix smoke`). Everything here imports torch: never import it from check/apply."""
