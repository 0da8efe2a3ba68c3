"""`mambafix apply`: fix what check finds, re-check until nothing fixable remains, write atomically."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field, replace
from pathlib import Path

from mambafix.checks.base import FixContext, FixOptions
from mambafix.config import Config, load_config
from mambafix.engine.file import FileAnalysis, analyze_module, in_cells, parse_error_message, python_source
from mambafix.notebook import rebuild
from mambafix.fix.executor import FixTransformer
from mambafix.report.findings import FileError, Finding
from mambafix.source import SourceError, atomic_write, decode, remove_stale_temp_files
from mambafix.syntax.edits import EditPlan
from mambafix.syntax.names import Family
from mambafix.checks.prints import REMOVED, WATCH_NOTE, removed_prints

MAX_PASSES = 10

STATE_DICT_NOTE = (
    "Norms and residuals change the model: new parameters appear in its state_dict. A checkpoint "
    "saved before the patch loads with load_state_dict(..., strict=False); the new norms start with "
    "identity affine parameters (weight 1, bias 0)."
)


@dataclass
class FileFix:
    path: str
    original: bytes
    fixed: bytes
    changes: list[str] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
    error: FileError | None = None
    patched_classes: list[str] = field(default_factory=list)
    found: list[Finding] = field(default_factory=list)  # what check found before any fix

    @property
    def changed(self) -> bool:
        return self.error is None and self.fixed != self.original

    def unfixed(self) -> list[Finding]:
        """Every finding check made, as left: the file could not be fixed (its error says why)."""
        return [f if not f.fixable else replace(f, fixable=False, fix_note="not fixed: the file has an error (below)")
                for f in self.found]


@dataclass
class ApplyReport:
    files: list[FileFix] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    stale_removed: list[str] = field(default_factory=list)  # temporary files a killed run left
    skipped: list[FileError] = field(default_factory=list)  # files over max-file-size

    @property
    def changed(self) -> list[FileFix]:
        return [f for f in self.files if f.changed]

    @property
    def remaining(self) -> list[Finding]:
        return [r for f in self.files for r in f.remaining]

    def exit_code(self, exit_non_zero_on_fix: bool = False, diff: bool = False) -> int:
        if self.errors or any(f.error for f in self.files):
            return 2
        if self.remaining:
            return 1
        if (exit_non_zero_on_fix or diff) and self.changed:
            return 1
        return 0

    def summary(self, diff: bool = False) -> list[str]:
        """The lines that end apply's output: what changed, what was left, what a user should know."""
        n, failed = len(self.changed), len(self.errors) + sum(1 for f in self.files if f.error)
        errors = f"; {failed} file{'s' if failed != 1 else ''} with errors (above)" if failed else ""
        lines = [f"{'Would change' if diff else 'Changed'} {n} file{'s' if n != 1 else ''}; "
                 f"{len(self.remaining)} finding(s) left without an automatic fix{errors}."]
        if any(f.patched_classes for f in self.changed):
            lines.append(STATE_DICT_NOTE)
        if removed_prints(c for f in self.changed for c in f.changes):
            lines.append(WATCH_NOTE)
        return lines

    def diff_text(self) -> str:
        out = []
        for f in self.changed:
            before = decode(f.original).splitlines(keepends=True)
            after = decode(f.fixed).splitlines(keepends=True)
            out.extend(difflib.unified_diff(before, after, fromfile=f"a/{f.path}", tofile=f"b/{f.path}"))
        return "".join(out)


def effective_config(config: Config, options: FixOptions) -> Config:
    if options.residual and "MF001" in config.select:
        return replace(config, select=config.select | {"MF002"})
    return config


def plan_fixes(analysis: FileAnalysis, options: FixOptions, only=None) -> tuple[EditPlan, list[Finding], list[str], list]:
    """One pass's edit plan for every fixable finding (or those of `only`, diagnostics by
    identity); the findings whose fix declined (with why, as new findings), the classes the plan
    patches, and the diagnostics whose fix raised while it was planned (its edits are not to be
    trusted: the caller plans again without it)."""
    ctx = FixContext(EditPlan(), options, analysis.facts)
    declined: list[Finding] = []
    patched: list[str] = []
    failed: list = []
    for diagnostic, finding in analysis.reported:
        if diagnostic.fix is None or (only is not None and not any(diagnostic is d for d in only)):
            continue
        try:
            reason = diagnostic.fix.apply(ctx)
        except Exception as exc:  # noqa: BLE001 - one finding's fix, never the file's
            failed.append((diagnostic, finding, f"{type(exc).__name__}: {exc}"))
            continue
        if reason is not None:
            declined.append(replace(finding, fixable=False, fix_note=reason))
        elif diagnostic.owner_class is not None:
            patched.append(diagnostic.owner_class)
    if REMOVED in ctx.memo:
        ctx.plan.changes.append(REMOVED.format(n=ctx.memo[REMOVED]))
    if not ctx.plan.edits_code:
        ctx.plan.import_needed = None
    return ctx.plan, declined, patched, failed


def _render(analysis: FileAnalysis, plan: EditPlan, pure: Family, path: str) -> bytes | str:
    """The module with the plan carried out, or why it cannot be (code that does not compile)."""
    try:
        new_bytes = analysis.module.visit(FixTransformer(plan, pure, analysis.facts.resolver)).bytes
    except Exception as exc:  # noqa: BLE001 - libcst refuses a node the edits built
        return f"the edit could not be written ({type(exc).__name__}: {exc})"
    try:
        compile(decode(new_bytes), path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"the edit would not compile ({exc.msg}, line {exc.lineno})"
    return new_bytes


def fix_pass(analysis: FileAnalysis, options: FixOptions, pure: Family, path: str, withheld=frozenset()):
    """One pass: every fixable finding's edits together (but those `withheld`, by `_key`); where
    they cannot be written, finding by finding, each edit that cannot be written declined alone
    with its reason and the others made. (new bytes, plan, declined findings, patched classes)"""
    wanted = [d for d, f in analysis.reported if d.fix is not None and _key(f) not in withheld]
    plan, declined, patched, failed = plan_fixes(analysis, options, only=wanted)
    out = _render(analysis, plan, pure, path)
    if isinstance(out, bytes) and not failed:
        return out, plan, declined, patched
    accepted: list = []
    best = (analysis.module.bytes, EditPlan(), [], [])
    declined = []
    for diagnostic, finding in analysis.reported:
        if diagnostic.fix is None or _key(finding) in withheld:
            continue
        trial, trial_declined, trial_patched, trial_failed = plan_fixes(analysis, options, only=[*accepted, diagnostic])
        why = next((msg for d, _, msg in trial_failed if d is diagnostic), None)
        if why is not None:
            why = f"internal error while planning the fix ({why}); the file's other fixes were made"
        else:
            rendered = _render(analysis, trial, pure, path)
            if isinstance(rendered, str):
                why = f"{rendered}; the file's other fixes were made"
            elif trial_declined:  # the ones accepted before did not decline: this one did, with its reason
                declined.extend(trial_declined)
                continue
            else:
                accepted.append(diagnostic)
                best = (rendered, trial, trial_declined, trial_patched)
                continue
        declined.append(replace(finding, fixable=False, fix_note=why))
    out, plan, _, patched = best
    return out, plan, declined, patched


UNCLEARED = ("its fix did not clear the finding (check still found it after the edit), so the edit was not "
             "made: a bug of the tool; please report it")
NO_EDIT = "its fix planned no edit: a bug of the tool; please report it"


def _key(finding: Finding) -> tuple:
    """A finding as passes see it: its rule, class and subject (lines move as edits are made)."""
    return finding.code, finding.message.split(":", 1)[0]


def fix_source(data: bytes, path: str, config: Config, options: FixOptions = FixOptions(), index=None) -> FileFix:
    """Fix one file's bytes in memory (a notebook: its code cells). Never raises for bad input:
    errors land in FileFix.error."""
    config = effective_config(config, options)
    result = FileFix(path, data, data)
    try:
        source, nb = python_source(data, path)
        fixed = _fix_python(source, path, config, options, index, result)
        if result.error is not None:
            return result
        if nb is not None:
            result.remaining = in_cells(result.remaining, fixed)
            fixed = rebuild(nb, fixed.decode("utf-8")) if fixed != source else data
    except Exception as exc:  # noqa: BLE001 - a per-file error, never a crash
        if result.found and not isinstance(exc, SourceError):  # it parsed: the tool failed, not the file
            message = f"internal error: {type(exc).__name__}: {exc}; file left unchanged"
        else:
            message = parse_error_message(exc)
        result.error = FileError(path, message)
        result.remaining = result.unfixed()
        result.changes = []
        result.fixed = data
        return result
    result.fixed = fixed
    result.patched_classes = list(dict.fromkeys(result.patched_classes))
    return result


def _fix_python(data: bytes, path: str, config: Config, options: FixOptions, index, result: FileFix) -> bytes:
    """Fix passes over Python source until nothing changes; the fixed bytes. A fix whose edit
    cannot be written is declined alone (the others are made)."""
    pure = Family(config.pure_calls)
    current = data
    printed = None  # libcst's printing of the original, where it is not byte for byte the original
    withheld: dict = {}  # findings whose fix did not clear them: key -> the finding
    last = None  # the pass before: (its bytes, what it fixed, len(changes), len(patched))
    for attempt in range(MAX_PASSES):
        analysis = analyze_module(current, path, config, index)
        fixable_now = {_key(f): f for d, f in analysis.reported if d.fix is not None}
        if last is not None and set(fixable_now) & last[1]:  # a fix that leaves its finding: undo, withhold
            withheld.update({k: fixable_now[k] for k in set(fixable_now) & last[1]})
            current, _, n_changes, n_patched = last
            del result.changes[n_changes:], result.patched_classes[n_patched:]
            analysis, last = analyze_module(current, path, config, index), None
        result.remaining = [f for f in analysis.findings if not f.fixable]
        result.remaining += [replace(f, fixable=False, fix_note=UNCLEARED) for d, f in analysis.reported
                             if d.fix is not None and _key(f) in withheld]
        fixable = any(d.fix is not None and _key(f) not in withheld for d, f in analysis.reported)
        if attempt == 0:
            original_findings = analysis.findings  # all left when the file is not rewritten
            result.found = list(original_findings)
        if attempt == 0 and analysis.module.bytes != current:
            printed = analysis.module.bytes
            current = printed  # fix libcst's printing; the changed lines are spliced back below
        if not fixable:
            break
        new_bytes, plan, declined, patched = fix_pass(analysis, options, pure, path, frozenset(withheld))
        made = {_key(f) for d, f in analysis.reported if d.fix is not None and d.owner_class} - set(withheld) \
            - {_key(f) for f in declined}
        before = (current, made, len(result.changes), len(result.patched_classes))
        result.remaining += declined
        if new_bytes == current:  # every fix declined, or one planned no edit: say so, never drop it
            result.remaining += [replace(f, fixable=False, fix_note=NO_EDIT) for d, f in analysis.reported
                                 if d.fix is not None and d.owner_class and _key(f) in made]
            break
        result.patched_classes.extend(patched)
        result.changes.extend(plan.changes)
        current, last = new_bytes, before
    else:
        result.remaining = analyze_module(current, path, config, index).findings
    if printed is None:
        return current
    if current == printed:
        return data
    try:
        return _splice_back(data, printed, current, analysis.module.encoding)
    except SourceError:
        result.remaining = original_findings
        raise


def _splice_back(data: bytes, printed: bytes, fixed: bytes, encoding: str) -> bytes:
    """The fix carried into the original bytes of a file libcst does not print back byte for byte
    (libcst 1.x drops the space in `except X :` and a bare-CR file's last line ending)."""
    from mambafix.fix.splice import splice

    spliced = splice(data.decode(encoding), printed.decode(encoding), fixed.decode(encoding))
    if spliced is None:
        _refuse_round_trip()
    return spliced.encode(encoding)


def _refuse_round_trip() -> None:
    raise SourceError("libcst does not print this file back byte for byte (a libcst limitation) and the fix "
                      "could not be spliced into the original lines; not rewritten")


def apply_paths(paths: list[str | Path], config: Config | None = None, options: FixOptions = FixOptions(),
                *, write: bool = True, jobs: int | None = None, progress=None) -> ApplyReport:
    """Fix files and folders. With write=False nothing is written (for --diff).

    With the prefilter off (`config.prefilter` False) every file goes through the parser and
    the fixer (a file libcst does not print back byte for byte gets its fixes spliced into its
    own lines, or is an error when that cannot be exact)."""
    from mambafix.engine.discovery import discover
    from mambafix.engine.project import analyze_sources, read_sources
    from mambafix.report.findings import Report

    config = config or load_config([Path(p) for p in paths])
    eff = effective_config(config, options)
    report = ApplyReport()
    found = discover([Path(p) for p in paths], eff)
    report.errors.extend(FileError(str(p), msg) for p, msg in found.errors)
    if write:
        report.stale_removed = [str(t) for t in remove_stale_temp_files({p.parent for p in found.files})]
    sources = read_sources(found.files, eff, report.errors, report.skipped)
    # a check pass (cached, pooled) says which files have anything to fix and builds the wrapper index
    check_report = Report()
    results = analyze_sources(sources, replace(eff, prefilter=True), check_report, cache=True, jobs=jobs, progress=progress)
    report.errors.extend(r.error for r in results if r.error is not None)
    index = {}
    for r in results:
        index.update(r.summaries)
    flagged = {f.path for r in results for f in r.findings}
    if not config.prefilter:
        failed = {r.error.path for r in results if r.error is not None}
        flagged = {path for path, _ in sources if path not in failed}
    todo = [(path, data) for path, data in sources if path in flagged]
    if progress is not None:
        progress(add_total=len(todo))
    for fix in fix_many(todo, eff, options, index or None, jobs, progress):
        report.files.append(fix)
        if fix.changed and write:
            try:
                atomic_write(Path(fix.path), fix.fixed, expected_original=fix.original)
                report.written.append(fix.path)
            except (SourceError, OSError) as exc:
                fix.error = FileError(fix.path, f"not written: {exc}")
                fix.remaining = fix.unfixed()  # nothing of the file was fixed
    return report


_FIXER: tuple | None = None


def _init_fixer(config: Config, options: FixOptions, index) -> None:
    global _FIXER
    _FIXER = (config, options, index)


def _fix_one(item: tuple[str, bytes]) -> FileFix:
    config, options, index = _FIXER
    return fix_source(item[1], item[0], config, options, index)


def fix_many(items: list[tuple[str, bytes]], config: Config, options: FixOptions, index, jobs: int | None,
             progress=None):
    """fix_source over (path, bytes) pairs, yielding each FileFix as soon as it is done (so the
    caller writes it at once), in a process pool when there are enough of them."""
    from mambafix.engine.pool import pool_map

    return pool_map(_fix_one, items, _init_fixer, (config, options, index), jobs, progress, max_chunk=4)
