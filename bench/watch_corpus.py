"""mambafix.watch on the real models of the shared corpus, driven to divergence: does the watch name
the first SSM layer that goes non-finite (the one a check by hand finds), and does it fire nothing
on the versions `mambafix apply` normalizes?

Run from the checkout root:
    python bench/watch_corpus.py [--labels ../shared/realcorpus/labels.tsv] [--mirrors /work/.mirror]
                                 [--width 32] [--length 32] [--steps 30] [--lr 0.3] [--timeout 120]
                                 [--budget 1500] [--only REPO]

For each labelled positive of the corpus (verdict UNNORMALIZED or RESIDUAL_ONLY; rows naming the
same repository, commit, file and class are one model), the repository's source files at the
labelled commit are written to a temporary folder (`git archive` of the bare mirror), and three
trials run, each in its own subprocess bounded by --timeout:

- original: the labelled class is built as `mambafix smoke` builds it (mambafix.smoke.worker's
  backend choice, so `import mamba_ssm` gives the reference Mamba where the tree has no package of
  its own by that name; construct.build with smoke's guessed constructor values; the input shape
  smoke infers, inputs.choose), with every width argument of the constructor (and every width key
  a guessed config reads) set to --width, and every count of layers to --depth (4, the seed's
  depth per direction: at 2 layers the seed's own BiMamba stays finite at these sizes). It is
  trained with AdamW at --lr, an L1 loss against random targets, batch 2, under
  `mambafix.watch(model, on_nonfinite=<stop>, on_growth=<collect>)` (tests/watch_harness.train). At the first non-finite event the step is replayed, from the same
  input and random state, with `torch.isfinite` after every SSM layer
  (tests/watch_harness.manual_first_nonfinite: layers by class name, the classes smoke calls SSM
  layers); the two names are compared. A run that never fires is replayed on its last step too,
  so a non-finite layer the watch missed shows.
- post / residual: the file after `mambafix apply` (and `apply --residual`) on a copy, trained the
  same way: whatever fires is printed (growth events collected, a non-finite one stops the run and
  its step is replayed by hand as above).

One line per model, then the totals. Executes the corpus's code (in subprocesses).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSITIVE = ("UNNORMALIZED", "RESIDUAL_ONLY")

# What a user of smoke passes with --init for classes whose required values smoke does not guess,
# read from each repository at the labelled commit (w: --width, d: --depth).
INIT = {
    # ssm/model/mamba.py forwards **kwargs to ssm/model/block/mamba_block.py MambaBlock; the values of
    # tests/test_mamba.py (expansion_factor 2, kernel_size 3), the default ssm_type "S4" (the "S6"
    # branch passes hid_dim, which ssm/model/block/s6_block.py S6Block does not take), and the
    # `method` ssm/model/block/s4_base_block.py S4BaseBlock requires
    ("GiovanniCanali/devtools_scicomp_project_2025", "Mamba"):
        lambda w, d: {"n_layers": d, "input_dim": w, "expansion_factor": 2, "kernel_size": 3, "method": "convolutional"},
    # vision/model.py reads config.d_inner and config.dt_rank, which mamba_ssm/config.py MambaConfig
    # derives in __post_init__ (expand * d_model, ceil(d_model / 16)); its other defaults as there
    ("clmrie/Mamba-S6-From-Scratch", "VisionMamba"):
        lambda w, d: {"config": {"d_model": w, "n_layers": d, "d_state": 16, "expand": 2, "d_inner": 2 * w,
                                 "dt_rank": -(-w // 16), "d_conv": 4, "bias": False, "conv_bias": True}},
}
KEEP = ("*.py", "*.toml", "*.cfg", "*.yaml", "*.yml", "*.json")  # what a build can read


# -- the parent: corpus, trees, subprocesses, the table -------------------------------------
def positives(labels: Path) -> list[dict]:
    """One row per (repo, commit, path, class) labelled UNNORMALIZED or RESIDUAL_ONLY."""
    seen: dict[tuple, dict] = {}
    with labels.open() as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row.get("verdict") in POSITIVE:
                seen.setdefault((row["repo"], row["commit"], row["path"], row["class"]), row)
    return list(seen.values())


def materialize(mirrors: Path, repo: str, commit: str, dest: Path) -> str | None:
    """The repository's source files (KEEP, under 2 MB) at `commit` under dest, read from the bare
    mirror (whose large data blobs may be absent), an empty .git marking the root as in a
    checkout; None, or why not."""
    git = ["git", f"--git-dir={mirrors / repo.replace('/', '+') / 'repo'}"]
    if not Path(git[1].split("=", 1)[1]).exists():
        return f"no mirror for {repo}"
    listing = subprocess.run([*git, "ls-tree", "-r", "-l", "-z", commit], capture_output=True)
    if listing.returncode != 0:
        return f"git ls-tree: {listing.stderr.decode(errors='replace').strip()[:200]}"
    names = []
    for entry in listing.stdout.decode(errors="surrogateescape").split("\0"):
        head, _, name = entry.partition("\t")
        fields = head.split()
        if len(fields) == 4 and fields[1] == "blob" and fields[3].isdigit() and int(fields[3]) < 2_000_000 \
                and name.endswith(tuple(k[1:] for k in KEEP)) and "\n" not in name:
            names.append(name)
    batch = subprocess.run([*git, "cat-file", "--batch"], input="".join(f"{commit}:{n}\n" for n in names).encode(),
                           capture_output=True)
    data, at = batch.stdout, 0
    for name in names:
        header_end = data.index(b"\n", at)
        header = data[at:header_end].split()
        at = header_end + 1
        if len(header) != 3 or header[1] != b"blob":  # "<object> missing": absent from the mirror
            continue
        size = int(header[2])
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_bytes(data[at:at + size])
        at += size + 1
    (dest / ".git").mkdir(parents=True, exist_ok=True)
    return None


def fixed_copy(tree: Path, rel: str, dest: Path, residual: bool, env: dict) -> str | None:
    """A copy of tree with `mambafix apply [--residual]` run on the labelled file; None, or why not."""
    shutil.copytree(tree, dest, symlinks=True)
    before = (dest / rel).read_bytes()
    run = subprocess.run([sys.executable, "-m", "mambafix", "apply", "--no-smoke", *(["--residual"] if residual else []),
                          str(dest / rel)], capture_output=True, text=True, env=env, cwd=dest, timeout=300)
    if (dest / rel).read_bytes() == before:
        why = [line for line in (run.stdout + run.stderr).splitlines() if line.strip()][-1:] or [f"exit {run.returncode}"]
        return f"apply changed nothing ({why[0][:120]})"
    return None


def trial(tree: Path, rel: str, cls: str, mode: str, opts, env: dict, init: dict | None = None) -> dict:
    """One trial in a subprocess bounded by opts.timeout."""
    from mambafix.smoke.runner import _check_layers, _forward_facts

    target = f"{tree / rel}:{cls}"
    spec = {"target": target, "mode": mode, "model_width": opts.width, "model_depth": opts.depth, "init": init or {},
            "length": opts.length, "batch": 2,
            "steps": opts.steps, "lr": opts.lr, "check_layers": _check_layers(target),
            "forward_facts": _forward_facts(target)}
    with tempfile.TemporaryDirectory(prefix="watch-corpus-") as tmp:
        spec_path, out_path = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps(spec, default=list))
        try:
            run = subprocess.run(["nice", "-n", "5", sys.executable, __file__, "--trial", str(spec_path), str(out_path)],
                                 capture_output=True, text=True, env=env, cwd=tree, timeout=opts.timeout)
        except subprocess.TimeoutExpired:
            return {"built": False, "error": f"timed out after {opts.timeout:g} s"}
        if not out_path.exists():
            tail = (run.stdout + run.stderr).strip().splitlines()[-1:] or [f"exit {run.returncode}"]
            return {"built": False, "error": f"trial process died: {tail[0][:160]}"}
        return json.loads(out_path.read_text())


def named(event: dict) -> str:
    """The layer the watch names, and the module that went non-finite first where that is another (a norm)."""
    return event["layer"] + (f" (first non-finite: {event['first']})" if event["first"] != event["layer"] else "")


def by_hand(result: dict) -> str:
    first = result.get("manual_any")
    return f"{result.get('manual') or '-'}" + (f" (first non-finite: {first})" if first != result.get("manual") else "")


def confirmed(result: dict) -> bool:
    """The watch's first non-finite module is the replay's first SSM layer or norm holding NaN or
    inf, and the layer it names is the replay's first non-finite SSM layer where one went non-finite."""
    event = result["event"]
    return event["first"] == result.get("manual_any") and (result.get("manual") is None
                                                           or event["layer"] == result["manual"])


def fired(result: dict) -> str:
    if not result.get("trained"):
        return f"not run ({result.get('error', '?')[:90]})"
    events = result["events"]
    if not events:
        hand = f" (by hand on the last step: {result['manual']} non-finite)" if result.get("manual") else ""
        return f"nothing in {result['steps_done']} steps{hand}"
    hand = ""
    if result.get("event"):
        hand = f" [watch {named(result['event'])}; by hand {by_hand(result)}: " \
               f"{'confirmed' if confirmed(result) else 'NOT CONFIRMED'}]"
    return "FIRED " + "; ".join(f"{e['kind']} {e['layer']} step {e['step']}" for e in events[:3]) + hand


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", default=str(ROOT.parent / "shared" / "realcorpus" / "labels.tsv"))
    parser.add_argument("--mirrors", default="/work/.mirror")
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--depth", type=int, default=4, help="layers per stack, where the constructor names the count")
    parser.add_argument("--length", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--lr", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=120, help="seconds per trial")
    parser.add_argument("--budget", type=float, default=1500, help="seconds for the whole run: later models are skipped")
    parser.add_argument("--only", default=None, help="only repositories whose name contains this")
    parser.add_argument("--trial", nargs=2, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.trial:
        sys.exit(child(*opts.trial))
    start = time.monotonic()
    models = [r for r in positives(Path(opts.labels)) if not opts.only or opts.only in r["repo"]]
    work = Path(tempfile.mkdtemp(prefix="watch-corpus-"))
    env = dict(os.environ, MAMBAFIX_CACHE_DIR=str(work / "cache"),
               PYTHONPATH=str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH") else ""))
    trees: dict[tuple[str, str], Path | str] = {}
    driven = agree = compared = quiet = fixed_run = real = 0
    print(f"watch on the corpus: width {opts.width}, depth {opts.depth}, length {opts.length}, batch 2, AdamW lr {opts.lr}, "
          f"up to {opts.steps} steps, {opts.timeout:g} s per trial", flush=True)
    for n, row in enumerate(models):
        name = f"{row['repo']} {row['path']} {row['class']} [{row['verdict']}]"
        if time.monotonic() - start > opts.budget:
            print(f"{name} | not run: over the run's {opts.budget:g} s budget", flush=True)
            continue
        key = (row["repo"], row["commit"])
        if key not in trees:
            dest = work / f"{row['repo'].replace('/', '+')}@{row['commit'][:7]}" / "orig"
            trees[key] = materialize(Path(opts.mirrors), row["repo"], row["commit"], dest) or dest
        tree = trees[key]
        if isinstance(tree, str) or not (tree / row["path"]).is_file():
            print(f"{name} | not run: {tree if isinstance(tree, str) else 'file absent at the commit'}", flush=True)
            continue
        given = INIT.get((row["repo"], row["class"]))
        init = given(opts.width, opts.depth) if given else None
        orig = trial(tree, row["path"], row["class"], "diverge", opts, env, init)
        if not orig.get("built"):
            print(f"{name} | not built: {orig.get('error', '?')[:200]}", flush=True)
            continue
        if not orig.get("trained"):
            print(f"{name} | built, input {orig['input']} | not trained: {orig.get('error', '?')[:200]}", flush=True)
            continue
        driven += 1
        sizes = "" if orig.get("sized") else f" (smoke's own sizes: at --width/--depth {orig.get('sized_error', '')[:100]})"
        event = orig.get("event")
        if event:
            compared += 1
            same = confirmed(orig)
            agree += same
            head = (f"diverged at step {event['step']} | watch {named(event)} | by hand {by_hand(orig)} | "
                    f"{'agree' if same else 'DISAGREE'}")
        else:
            head = (f"no divergence in {orig['steps_done']} steps | watch - | by hand on the last step "
                    f"{orig['manual_any'] or '-'} | {'agree' if orig['manual_any'] is None else 'DISAGREE (watch missed it)'}")
        cells = []
        for label, residual in (("post", False), ("residual", True)):
            copy = work / f"{row['repo'].replace('/', '+')}@{row['commit'][:7]}" / f"{label}-{row['class']}-{n}"
            why = fixed_copy(tree, row["path"], copy, residual, env)
            if why:
                cells.append(f"fixed {label}: not run ({why})")
                continue
            result = trial(copy, row["path"], row["class"], "quiet", opts, env, init)
            if result.get("trained"):
                fixed_run += 1
                quiet += not result["events"]
                real += bool(result.get("event")) and confirmed(result)
            cells.append(f"fixed {label}: {fired(result)}")
        growth = orig.get("growth") or []
        lead = f" (growth first at step {growth[0]['step']} in {growth[0]['layer']})" if growth else ""
        print(f"{name} | built, input {orig['input']}{sizes} | {head}{lead} | " + " | ".join(cells), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    print(f"totals: driven {driven} of {len(models)} positives; agree {agree}/{compared} (of those that diverged); "
          f"fixed versions firing nothing {quiet}/{fixed_run} (of those firing, a non-finite value the replay confirms: "
          f"{real}/{fixed_run - quiet}); {time.monotonic() - start:.0f} s", flush=True)


# -- the child: build, train under the watch, check by hand -----------------------------------
def child(spec_path: str, out_path: str) -> int:
    import traceback

    spec = json.loads(Path(spec_path).read_text())
    out: dict = {"built": False}
    try:
        drive(spec, out)
    except BaseException as exc:  # noqa: BLE001 - the corpus's code failing is a result, not a crash
        out["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
        out["traceback"] = traceback.format_exc()[-2000:]
    Path(out_path).write_text(json.dumps(out, default=str))
    return 0


def _build(target, spec: dict, library: bool, sized: bool = True):
    """The model as smoke builds it (spec["init"] as --init), its width and depth set to
    spec["model_width"] and spec["model_depth"]: a constructor argument named as a width or a count
    of layers (smoke.config_guesses) gets it, and so does such a field of a config class the
    constructor is annotated with, or a key a guessed config reads. `sized=False`: smoke's own sizes."""
    import inspect

    from mambafix.smoke import config_guesses, construct, diagnoses

    sizes = {}
    for names, value in config_guesses.GUESSES:
        if names[0] in ("d_model", "n_layers"):
            size = spec["model_width"] if names[0] == "d_model" else spec["model_depth"]
            sizes.update(dict.fromkeys(names, size if sized else value))
    config_guesses._BY_NAME.update(sizes)
    init = dict(spec.get("init") or {})
    if sized:
        try:
            params = inspect.signature(target).parameters
        except (TypeError, ValueError):
            params = {}
        hints = construct._hints(target.__init__ if inspect.isclass(target) else target)
        for name in params:
            config = construct._config_class(hints.get(name))
            if name in sizes:
                init.setdefault(name, sizes[name])
            elif config is not None and name not in init:
                init[name] = {f: sizes[f] for f in construct._field_names(config) or () if f in sizes}
    with diagnoses.building(spec, library=library):
        return construct.build(target, init)


def drive(spec: dict, out: dict) -> None:
    import torch

    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    torch.set_num_threads(1)
    import mambafix
    from mambafix.smoke.bounds import Budget
    from mambafix.smoke.construct import load_target, signature_values
    from mambafix.smoke.inputs import choose, extra_arguments
    from mambafix.smoke.probe import SSM_SIGNATURES, all_modules, layer_kind
    from mambafix.guard.events import first_nonfinite
    from mambafix.smoke.worker import _backend
    from watch_harness import manual_first_nonfinite, train

    device, backend = _backend({**spec, "device": "cpu"})
    library = not backend.startswith("the target tree's own")
    out["backend"] = backend
    target = load_target(spec["target"])
    known = frozenset(tuple(k) for k in spec.get("check_layers") or ())

    def is_layer(module) -> bool:
        return layer_kind(module, frozenset(), SSM_SIGNATURES, known, library) == "mamba"

    for sized in (True, False):  # at --width/--depth, else at the sizes smoke itself would build
        try:
            torch.manual_seed(0)
            model, kwargs = _build(target, spec, library, sized)
            chosen = choose(model, spec, signature_values(target, kwargs), "cpu", torch.float32, is_layer, None,
                            Budget(60, None))
            break
        except Exception as exc:  # noqa: BLE001 - the model's own error at these sizes
            if not sized:
                raise
            out["sized_error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
    out.update(built=True, sized=sized, input=[spec["batch"], *chosen.shape[1:]] + (["tokens"] if chosen.tokens else []))
    classes = tuple(sorted({type(m).__name__ for _, m in all_modules(model) if is_layer(m)}))
    out["classes"] = classes

    def make(gen):
        return chosen.make(gen, spec["batch"])

    def call(m, x):
        return m(x, *extra_arguments(chosen.extra, x))

    class Diverged(Exception):
        pass

    events: list = []

    def stop(event):
        events.append(event)
        raise Diverged

    model.train()
    last: dict = {}
    watcher = mambafix.watch(model, on_nonfinite=stop, on_growth=events.append, advice=False)
    try:
        with watcher:
            out["watched"] = [w.name for w in watcher.layers if w.kind == "mamba"]
            norms = tuple(sorted({type(w.module).__name__ for w in watcher.layers if w.kind == "norm"}))
            train(model, None, spec["steps"], lr=spec["lr"], last=last, make=make, call=call)
    except Diverged:
        pass
    out["trained"] = True
    out["steps_done"] = watcher.step
    first = next((e for e in events if e.kind == "nonfinite"), None)
    out["events"] = [{"kind": e.kind, "layer": e.layer, "step": e.step} for e in events]
    out["growth"] = [e for e in out["events"] if e["kind"] == "growth"]
    if first is not None:
        _, hit, _ = first_nonfinite(first.record)
        out["event"] = {"layer": first.layer, "step": first.step, "row_kind": first.row.kind, "detail": first.detail,
                        "first": first.record.rows[hit].name}
    if "x" in last:  # the step that fired (or the last one), replayed with isfinite after each SSM layer,
        # and again after each SSM layer and norm (the watch names the SSM layer that fed a norm gone non-finite)
        out["manual"] = manual_first_nonfinite(model, last["x"], classes, call=call, rng=last["rng"])
        out["manual_any"] = manual_first_nonfinite(model, last["x"], classes + norms, call=call, rng=last["rng"])


if __name__ == "__main__":
    main()
