"""smoke's command-line settings, shared by `smoke` and `check --probe`: the options the user
set, as spec keys. Torch-free (check imports it only with --probe)."""

from __future__ import annotations


def given_settings(init: str | None = None, scales: str | None = None, input_shape: str | None = None,
                   **values) -> dict:
    """The spec keys of the options set explicitly. Raises UserError (a bad --init) or
    ValueError (a bad --scales or --input-shape)."""
    from mambafix.smoke.construct import read_init
    from mambafix.smoke.settings import parse_shape

    given: dict = {}
    if init is not None:
        given["init"] = read_init(init)
    if scales is not None:
        given["scales"] = [float(v) for v in scales.split(",") if v.strip()]
    if input_shape is not None:
        given.update(parse_shape(input_shape))
    given.update({k: v for k, v in values.items() if v is not None})
    return given
