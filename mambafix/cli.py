"""The command line: a thin layer over the Python API (engine, apply, smoke)."""

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from mambafix._version import __version__

app = typer.Typer(
    name="mambafix",
    help="Audit and patch PyTorch code built on stacked Mamba layers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    github = "github"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mambafix {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = None,
) -> None:
    """mambafix: find and fix unnormalized Mamba stacks and leftover debug prints."""


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"mambafix: {message}", err=True)
    raise typer.Exit(code)


def _config(paths, config_file, select, extend_select, ignore, markers, layer_classes, no_prefilter):
    from mambafix.config import ConfigError, load_config, with_cli_overrides

    try:
        config = load_config([Path(p) for p in paths], config_file)
        return with_cli_overrides(config, select, extend_select, ignore, markers, layer_classes, no_prefilter)
    except ConfigError as exc:
        _fail(str(exc))


def _stdin(paths: list[str], stdin_filename: str | None):
    if "-" not in paths:
        return None
    return (stdin_filename or "<stdin>", sys.stdin.buffer.read())


PathsArg = Annotated[list[str], typer.Argument(help="Files or folders to check; '-' reads standard input.")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="A pyproject.toml or mambafix.toml to use instead of the nearest one.")]
SelectOpt = Annotated[Optional[list[str]], typer.Option("--select", help="Rule codes to enable (replaces the default set).")]
ExtendOpt = Annotated[Optional[list[str]], typer.Option("--extend-select", help="Rule codes to enable in addition.")]
IgnoreOpt = Annotated[Optional[list[str]], typer.Option("--ignore", help="Rule codes to disable.")]
MarkerOpt = Annotated[Optional[list[str]], typer.Option("--marker", help="An extra debug-print marker (MF003).")]
LayerOpt = Annotated[Optional[list[str]], typer.Option("--layer-class", help="An extra Mamba-family layer class (dotted or bare name).")]
StdinNameOpt = Annotated[Optional[str], typer.Option("--stdin-filename", help="The file name to report for '-'.")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Do not read or write the result cache.")]
NoPrefilterOpt = Annotated[bool, typer.Option("--no-prefilter", help="Parse every file, even those with no Mamba name or marker.")]
JobsOpt = Annotated[Optional[int], typer.Option("--jobs", "-j", help="Worker processes (default: CPU count).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print findings and errors only: no summary, no progress bar.")]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Also print timing and cache figures.")]


@app.command()
def check(
    paths: PathsArg = None,
    output_format: Annotated[OutputFormat, typer.Option("--output-format", help="text, json, sarif or github.")] = OutputFormat.text,
    output_file: Annotated[Optional[Path], typer.Option("--output-file", "-o", help="Write the report here instead of stdout.")] = None,
    config_file: ConfigOpt = None,
    select: SelectOpt = None,
    extend_select: ExtendOpt = None,
    ignore: IgnoreOpt = None,
    marker: MarkerOpt = None,
    layer_class: LayerOpt = None,
    statistics: Annotated[bool, typer.Option("--statistics", help="Count findings per rule.")] = False,
    exit_zero: Annotated[bool, typer.Option("--exit-zero", help="Exit 0 even with findings (errors still exit 2).")] = False,
    stdin_filename: StdinNameOpt = None,
    no_cache: NoCacheOpt = False,
    no_prefilter: NoPrefilterOpt = False,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
    probe: Annotated[bool, typer.Option("--probe", help="Probe every class with an MF001 or MF005-MF007 finding (needs torch; imports and runs it in a subprocess, as smoke does) and say whether the probe confirms it.")] = False,
    init: Annotated[Optional[str], typer.Option("--init", help="With --probe: constructor arguments, as for smoke.")] = None,
    input_shape: Annotated[Optional[str], typer.Option("--input-shape", help="With --probe: the input shape, as for smoke.")] = None,
    scales: Annotated[Optional[str], typer.Option("--scales", help="With --probe: input scales [default: 1,10,30,100].")] = None,
    length: Annotated[Optional[int], typer.Option("--length", help="With --probe: sequence length [default: 256].")] = None,
    probe_timeout: Annotated[float, typer.Option("--probe-timeout", help="With --probe: seconds per probed class.")] = 300.0,
) -> None:
    """Audit files for unnormalized Mamba stacks (MF001), missing residuals (MF002), debug prints (MF003),
    init hooks that overwrite SSM initialization (MF005), half-precision SSM parameters (MF006) and
    Mamba sizes the kernels reject (MF007).

    Without --probe, check never imports or runs the code it reads (and never imports torch).
    Exit codes: 0 clean, 1 findings, 2 errors (unreadable files, bad configuration).
    """
    import time

    from mambafix.engine.project import check_paths
    from mambafix.report.render import RENDERERS, summary_line
    from mambafix.report.terminal import progress_bar, wants_color, wants_progress

    paths = paths or ["."]
    config = _config(paths, config_file, select, extend_select, ignore, marker, layer_class, no_prefilter)
    started = time.perf_counter()
    with progress_bar(wants_progress(sys.stderr, quiet), "checking") as progress:
        report = check_paths(paths, config, cache=not no_cache, jobs=jobs, stdin=_stdin(paths, stdin_filename),
                             progress=progress)
    elapsed = time.perf_counter() - started
    if probe:
        _probe_findings(report, config, _given(init, scales, input_shape, length=length), probe_timeout, quiet)
    fmt = output_format.value
    if fmt == "text":
        text = RENDERERS["text"](report, statistics, color=output_file is None and wants_color(sys.stdout))
        if quiet:  # the summary line made once: each finding's line is compared with it
            summary = summary_line(report)
            text = "".join(line + "\n" for line in text.splitlines() if line and line != summary)
    else:
        text = RENDERERS[fmt](report)
    if output_file is not None:
        output_file.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if verbose:
        typer.echo(
            f"checked {report.files_checked} files: {report.files_parsed} parsed "
            f"(+{report.files_reread} read again in cross-file rounds), {report.files_cached} from cache, "
            f"{report.files_checked - report.files_parsed - report.files_cached} skipped by the prefilter, in {elapsed:.3f} s",
            err=True,
        )
    raise typer.Exit(report.exit_code(exit_zero))


class Style(str, Enum):
    postnorm = "postnorm"
    prenorm = "prenorm"


class NormKind(str, Enum):
    layernorm = "layernorm"
    rmsnorm = "rmsnorm"


@app.command()
def apply(
    paths: PathsArg = None,
    residual: Annotated[bool, typer.Option("--residual", help="Add a skip connection too: h = norm(layer(h) + h). Implies MF002.")] = False,
    style: Annotated[Style, typer.Option("--style", help="postnorm (the seed's fix) or prenorm (h = h + layer(norm(h))).")] = Style.postnorm,
    norm: Annotated[NormKind, typer.Option("--norm", help="layernorm or rmsnorm.")] = NormKind.layernorm,
    diff: Annotated[bool, typer.Option("--diff", help="Print a unified diff and write nothing (exit 1 if there would be changes).")] = False,
    exit_non_zero_on_fix: Annotated[bool, typer.Option("--exit-non-zero-on-fix", help="Exit 1 when any file was changed (for pre-commit).")] = False,
    smoke_after: Annotated[bool, typer.Option("--smoke/--no-smoke", help="After writing, probe each patched class before and after (needs torch; imports and runs the patched code in a subprocess). Off by default: apply itself never runs the code it reads.")] = False,
    config_file: ConfigOpt = None,
    select: SelectOpt = None,
    extend_select: ExtendOpt = None,
    ignore: IgnoreOpt = None,
    marker: MarkerOpt = None,
    layer_class: LayerOpt = None,
    no_prefilter: NoPrefilterOpt = False,
    stdin_filename: StdinNameOpt = None,
    jobs: JobsOpt = None,
    quiet: QuietOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Rewrite what check finds: insert norms (and residuals), remove tagged debug prints.

    `-` reads the source from standard input and prints the fixed source on standard output
    (findings left without a fix go to standard error).

    Every byte that need not change is kept. Exit codes: 0 all fixed, 1 findings remain
    (or, with --diff / --exit-non-zero-on-fix, files would change / changed), 2 errors.
    """
    import time

    from mambafix.fix.apply import apply_paths
    from mambafix.checks.base import FixOptions
    from mambafix.report.terminal import progress_bar, wants_progress

    paths = paths or ["."]
    config = _config(paths, config_file, select, extend_select, ignore, marker, layer_class, no_prefilter)
    options = FixOptions(residual=residual, style=style.value, norm=norm.value)
    if "-" in paths:
        if paths != ["-"]:
            _fail("'-' (standard input) cannot be mixed with paths")
        _apply_stdin(config, options, stdin_filename or "<stdin>", diff)
    started = time.perf_counter()
    with progress_bar(wants_progress(sys.stderr, quiet), "fixing") as progress:
        report = apply_paths(paths, config, options, write=not diff, jobs=jobs, progress=progress)
    if verbose:
        typer.echo(f"looked at {len(report.files)} files with findings, wrote {len(report.written)}, "
                   f"in {time.perf_counter() - started:.3f} s", err=True)
    if diff:
        sys.stdout.write(report.diff_text())
    for fix in report.changed:
        if not quiet:
            verb = "would fix" if diff else "fixed"
            typer.echo(f"{fix.path}: {verb}: " + "; ".join(fix.changes), err=diff)
    for finding in report.remaining:
        typer.echo(f"{finding.where}: {finding.code} {finding.message}"
                   f"  (no automatic fix: {finding.fix_note})", err=diff)
    for error in [*report.errors, *(f.error for f in report.files if f.error)]:
        typer.echo(f"{error.path}: error: {error.message}", err=True)
    for skipped in report.skipped:
        typer.echo(f"{skipped.path}: skipped: {skipped.message}", err=True)
    if not quiet:
        for line in report.summary(diff):
            typer.echo(line, err=diff)
    patched = [(f.path, c) for f in report.changed for c in f.patched_classes]
    if patched and not diff and smoke_after:
        _probe_after_apply(report, quiet)
    raise typer.Exit(report.exit_code(exit_non_zero_on_fix, diff))


def _apply_stdin(config, options, name: str, diff: bool) -> None:
    """`apply -`: the fixed source on stdout (or the diff with --diff), what is left on stderr."""
    from mambafix.fix.apply import ApplyReport, fix_source

    fix = fix_source(sys.stdin.buffer.read(), name, config, options)
    report = ApplyReport(files=[fix])
    if fix.error is not None:
        typer.echo(f"{name}: error: {fix.error.message}", err=True)
    elif diff:
        sys.stdout.write(report.diff_text())
    else:
        sys.stdout.buffer.write(fix.fixed)
        sys.stdout.flush()
    for finding in fix.remaining:
        typer.echo(f"{finding.where}: {finding.code} {finding.message}"
                   f"  (no automatic fix: {finding.fix_note})", err=True)
    raise typer.Exit(report.exit_code(diff=diff))


def _probe_findings(report, config, given: dict, timeout: float, quiet: bool) -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        _fail("check --probe needs torch: pip install 'mambafix[smoke]'")
    from mambafix.smoke.confirm import probe_findings
    from mambafix.smoke.runner import NOTICE

    if not quiet:
        typer.echo(NOTICE, err=True)
    probe_findings(report, config, given, timeout=timeout)


def _probe_after_apply(report, quiet: bool) -> None:
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        if not quiet:
            typer.echo("Stability probe skipped: torch is not installed (pip install 'mambafix[smoke]' to run it after apply).")
        return
    from mambafix.smoke.runner import compare_after_apply

    compare_after_apply(report, echo=typer.echo)


class Dtype(str, Enum):
    float32 = "float32"
    bfloat16 = "bfloat16"
    float16 = "float16"


class InputDtype(str, Enum):
    float = "float"
    long = "long"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


@app.command()
def smoke(
    targets: Annotated[Optional[list[str]], typer.Argument(help="path/to/file.py:Class (or :factory_function), package.module:Class, or files/folders (every class there that holds a Mamba stack, normalized or not). None: the [[tool.mambafix.smoke]] entries.")] = None,
    init: Annotated[Optional[str], typer.Option("--init", help='Constructor arguments as JSON, e.g. \'{"d_model": 100}\', or @file.json / @file.yaml. A config-class argument takes a JSON object.')] = None,
    factory: Annotated[Optional[str], typer.Option("--factory", help="module:function (or file.py:function) that returns the model; called with --init's arguments.")] = None,
    select_classes: Annotated[Optional[list[str]], typer.Option("--select", help="Probe only these classes of a path target (repeatable).")] = None,
    scales: Annotated[Optional[str], typer.Option("--scales", help="Comma-separated input scales [default: 1,10,30,100].")] = None,
    dtype: Annotated[Optional[Dtype], typer.Option("--dtype", help="[default: float32]")] = None,
    device: Annotated[Optional[Device], typer.Option("--device", help="[default: auto]")] = None,
    batch: Annotated[Optional[int], typer.Option("--batch", help="[default: 2]")] = None,
    length: Annotated[Optional[int], typer.Option("--length", help="[default: 256]")] = None,
    width: Annotated[Optional[int], typer.Option("--width", help="Input feature width (inferred if omitted).")] = None,
    input_shape: Annotated[Optional[str], typer.Option("--input-shape", help="The full input shape, batch first, any rank (2,3,224,224; 2,16000 for a raw signal), or batch,length,... to infer the rest.")] = None,
    input_dtype: Annotated[Optional[InputDtype], typer.Option("--input-dtype", help="long: integer token ids (with --vocab-size unless the model starts with nn.Embedding).")] = None,
    vocab_size: Annotated[Optional[int], typer.Option("--vocab-size", help="Token ids are drawn below this.")] = None,
    gradients: Annotated[Optional[bool], typer.Option("--gradients/--no-gradients", help="One backward pass per scale: gradient explosion / vanishing verdicts [default: on].")] = None,
    weights: Annotated[Optional[Path], typer.Option("--weights", help="A state_dict to load (strict=False) before probing.")] = None,
    train_steps: Annotated[Optional[int], typer.Option("--train-steps", help="Optimizer steps on random data before probing [default: 0].")] = None,
    compare: Annotated[bool, typer.Option("--compare", help="Probe the original and the `apply --residual` version side by side.")] = False,
    report: Annotated[Optional[Path], typer.Option("--report", help="Write the result as JSON.")] = None,
    plot_file: Annotated[Optional[Path], typer.Option("--plot", help="Write a per-layer RMS and gradient plot (PNG).")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds before a probe process is stopped.")] = 300.0,
    memory_limit: Annotated[Optional[float], typer.Option("--memory-limit", help="GB the probe process may hold [default: half the memory available].")] = None,
    trial_timeout: Annotated[Optional[float], typer.Option("--trial-timeout", help="Seconds for each trial forward pass that confirms an inferred input [default: 30].")] = None,
    config_file: ConfigOpt = None,
) -> None:
    """Run short forward and backward passes over a sweep of input scales and judge every SSM layer and norm:
    ok, overflow, explosion, collapse, gradient explosion, vanishing gradient.

    Uses the real kernels on a GPU with mamba_ssm, else mambafix's pure-PyTorch Mamba. Settings
    come from the command line, else the target's [[tool.mambafix.smoke]] entry, else defaults.
    Exit codes: 0 stable, 1 unstable, 2 error. This command executes the targets' code.
    """
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        _fail("smoke needs torch: pip install 'mambafix[smoke]'")
    from mambafix.config import ConfigError, load_config
    from mambafix.smoke.session import run_session
    from mambafix.smoke.targets import TargetError, resolve_jobs

    given = _given(init, scales, input_shape, dtype=dtype and dtype.value, device=device and device.value,
                   batch=batch, length=length, width=width, train_steps=train_steps, gradients=gradients,
                   input_dtype=input_dtype and input_dtype.value, vocab_size=vocab_size, memory_limit=memory_limit,
                   trial_timeout=trial_timeout)
    targets = list(targets or []) + ([factory] if factory else [])
    try:
        config = load_config([Path(t.rpartition(":")[0] if ":" in t else t) for t in targets] or None, config_file)
        jobs = resolve_jobs(targets, config, given, select_classes)
    except (ConfigError, TargetError) as exc:
        _fail(str(exc))
    try:
        code = run_session(jobs, config, compare=compare, weights=weights, timeout=timeout, report=report,
                           plot_file=plot_file, echo=typer.echo, err=lambda text: typer.echo(text, err=True))
    except ValueError as exc:
        _fail(str(exc))
    raise typer.Exit(code)


def _given(init, scales, input_shape, **values) -> dict:
    from mambafix.smoke.construct import UserError
    from mambafix.smoke.options import given_settings

    try:
        return given_settings(init, scales, input_shape, **values)
    except UserError as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(f"bad --scales or --input-shape: {exc}")


@app.command("rules")
def rules_command(
    output_format: Annotated[OutputFormat, typer.Option("--output-format", help="text or json.")] = OutputFormat.text,
) -> None:
    """List the rule catalogue."""
    from mambafix.catalogue import load_rules

    rules = load_rules()
    if output_format == OutputFormat.json:
        import json

        typer.echo(json.dumps([{"code": r.code, "name": r.name, "enabled": r.enabled, "severity": r.severity, "summary": r.summary} for r in rules.values()], indent=2))
        return
    from mambafix.report.docs import rules_table_text

    typer.echo(rules_table_text())


@app.command()
def explain(code: Annotated[str, typer.Argument(help="A rule code (MF001) or name (unnormalized-mamba-stack).")]) -> None:
    """Print a rule's documentation."""
    from mambafix.catalogue import rule_by_name_or_code
    from mambafix.report.docs import rule_markdown

    rule = rule_by_name_or_code(code)
    if rule is None:
        _fail(f"unknown rule {code!r}; `mambafix rules` lists them")
    typer.echo(rule_markdown(rule))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("mambafix: interrupted", err=True)
        sys.exit(130)
