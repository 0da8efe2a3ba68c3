"""`check --probe` for the other causes (MF005-MF007): what the probe of a finding's class says.

- MF005: the model built as the file builds it; confirmed where an SSM parameter was
  overwritten after its layer was built (smoke.init_watch).
- MF006: the class probed in the finding's half dtype and in float32; confirmed where the half
  model is unstable and the float32 one is not.
- MF007: confirmed where the reference backend refuses the layer's sizes as the kernels would,
  or notes a size older kernels refuse (smoke.kernel_limits).

The class is the innermost one around the finding, else, for MF006 and MF007, the first class of
the file the message names (a script casting a model it built). An MF005 hook a script applies
is not probed: building the class does not run the script."""

from __future__ import annotations

import ast
import re

CODES = ("MF005", "MF006", "MF007")
_DTYPE = re.compile(r"stored in (float16|bfloat16)")
_NAMES = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def named_class(tree: ast.AST, message: str) -> str | None:
    """The first class defined in the file that the message names."""
    defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef)}
    return next((name for name in _NAMES.findall(message) if name in defined), None)


def dtype_of(finding) -> str:
    found = _DTYPE.search(finding.message)
    return found.group(1) if found else "float16"


def describe(code: str, outcome, twin=None, dtype: str = "") -> tuple[str, str]:
    """(status, text) for a finding of `code` from its class's probe (and its float32 twin)."""
    if code == "MF007":
        return _kernels(outcome)
    if not outcome.ok:
        return "not_probed", f"not probed: {outcome.error.splitlines()[0] if outcome.error else 'unknown error'}"
    if code == "MF005":
        from mambafix.smoke.init_watch import line

        found = outcome.data.get("init_overwritten", [])
        if not found:
            return "not_confirmed", "not confirmed: every SSM layer's initialization is intact once the model is built"
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        return "confirmed", f"confirmed: {line(found[0])}{more}"
    return _precision(outcome, twin, dtype)


def _kernels(outcome) -> tuple[str, str]:
    if not outcome.ok and outcome.data.get("kernel_rejected"):
        return "confirmed", f"confirmed: {outcome.error.splitlines()[0]}"
    if not outcome.ok:
        return "not_probed", f"not probed: {outcome.error.splitlines()[0] if outcome.error else 'unknown error'}"
    notes = outcome.data.get("kernel_notes", [])
    if notes:
        return "confirmed", f"confirmed: {notes[0]}"
    return "not_confirmed", "not confirmed: the layer's sizes pass the kernels' checks as the probe built them"


def _precision(half, fp32, dtype: str) -> tuple[str, str]:
    if fp32 is None or not fp32.ok:
        return "not_probed", "not probed: the float32 twin could not be built"
    span = "x{:g}-x{:g}".format(*[fp32.data["result"]["scales"][i] for i in (0, -1)])
    if fp32.stable and not half.stable:
        bad = min((r for r in half.data["result"]["layers"] if r["verdict"] != "ok"), key=lambda r: r["scale"])
        return "confirmed", (f"confirmed: UNSTABLE in {dtype} at x{bad['scale']:g} ({bad['name']} {bad['verdict']}), "
                             f"STABLE in float32 at {span}")
    if not fp32.stable:
        return "not_confirmed", f"not confirmed: UNSTABLE in float32 too (another cause comes first)"
    return "not_confirmed", f"not confirmed: STABLE in {dtype} and in float32 at {span}"
