"""`mambafix.watch(model)`: hooks on a live model's SSM layers and norms for a real training run.

    with mambafix.watch(model, log_every=100, jsonl="watch.jsonl") as w:
        for x, y in loader:
            loss = loss_fn(model(x), y)       # a step: one call of the watched model
            loss.backward(); opt.step(); opt.zero_grad()

Each call of a watched module inside a step leaves its input's and output's figures (RMS, min,
max) on the device; at the end of the step's forward they are read back in one transfer and
judged (events.py); backward hooks (`gradients=True`) do the same for each output's gradient
once the last of them has arrived. The step's record joins a rolling history of `history` steps.
A step is one call of the model (`auto_step=True`); a trainer that calls submodules itself
marks steps with `begin_step(n)` / `end_forward()` (the Lightning callback does).

Actions (`on_nonfinite`, `on_growth`, `on_gradient`): "raise" (WatchError, out of the forward or
backward call), "warn" (WatchWarning), "log" (logger error), None (recorded in `events` only), or
a callable given the Event. Hooks come off at `detach()` or the end of the `with` block.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections import deque
from pathlib import Path

import torch
import torch.nn as nn

from mambafix.guard.advice import Owner, init_arguments
from mambafix.guard.events import Event, WatchError, WatchWarning, first_nonfinite, growing, \
    last_nonfinite_gradient, trend
from mambafix.guard.layers import Watched, find_layers, own_files
from mambafix.guard.record import Figures, Row, StepRecord, profile_line, profile_table
from mambafix.guard.stats import figures
from mambafix.smoke.probe import all_modules, first_tensor
from mambafix.smoke.verdicts import mark_context

LOGGER = logging.getLogger("mambafix.watch")
CONTAINERS = (nn.ModuleList, nn.ModuleDict, nn.Sequential)
ACTIONS = ("raise", "warn", "log", None)


def _first_input(args) -> torch.Tensor | None:
    return next((a for a in args if isinstance(a, torch.Tensor)), None)


class Watcher:
    def __init__(self, model: nn.Module, *, growth: float | None = 1e3, on_nonfinite="raise", on_growth="warn",
                 on_gradient="raise", gradients: bool = False, norms: bool = True, history: int = 8,
                 log_every: int = 0, jsonl: str | Path | None = None, logger: logging.Logger | None = None,
                 static: bool = True, advice: bool = True, snapshot: str | Path | None = None,
                 auto_step: bool = True, config=None):
        for action in (on_nonfinite, on_growth, on_gradient):
            if not callable(action) and action not in ACTIONS:
                raise ValueError(f"action {action!r}: one of 'raise', 'warn', 'log', None, or a callable")
        self.model = model
        self.growth, self.gradients, self.norms = growth, gradients, norms
        self.actions = {"nonfinite": on_nonfinite, "growth": on_growth, "nonfinite-gradient": on_gradient}
        self.log_every, self.jsonl_path = log_every, Path(jsonl) if jsonl else None
        self.logger = logger or LOGGER
        self.static, self.with_advice, self.auto_step, self.config = static, advice, auto_step, config
        self.snapshot = Path(snapshot) if snapshot else None
        self.history: deque[StepRecord] = deque(maxlen=max(history, 1))
        self.events: list[Event] = []
        self.layers: list[Watched] = []
        self.step, self.phase = 0, ""
        self._logged: int | None = None  # the last step whose profile was logged
        self._handles: list = []
        self._fired: set[tuple[str, str]] = set()
        self._jsonl = None
        self._recording = False
        self._calls: list = []  # (layer index, (input figures, size), (output figures, size)) this step
        self._grads: dict[int, tuple | None] = {}  # row -> (its output gradient's figures, size), once arrived
        self._open: StepRecord | None = None  # a record waiting for its gradients
        self._generation = 0  # bumped at detach: gradient hooks of an earlier attach do nothing
        self._weights: dict[str, str] = {}  # owner module -> its state_dict saved at an event

    # -- attach / detach ---------------------------------------------------------------
    def attach(self) -> "Watcher":
        if self._handles:
            return self
        if not self.layers:
            found = find_layers(self.model, static=self.static, config=self.config)
            self.layers = [w for w in found if self.norms or w.kind == "mamba"]
        if not any(w.kind == "mamba" for w in self.layers):
            raise ValueError("mambafix.watch: no SSM layer found in the model (no mamba_ssm layer, no module with "
                             "a selective-SSM signature, no class check calls an SSM layer, no extra-layer-classes)")
        for index, layer in enumerate(self.layers):
            self._handles.append(layer.module.register_forward_hook(self._layer_hook(index)))
        if self.auto_step:
            self._handles.append(self.model.register_forward_pre_hook(self._model_pre_hook))
            self._handles.append(self.model.register_forward_hook(self._model_hook, always_call=True))
        if self.jsonl_path is not None:
            self.jsonl_path.parent.mkdir(parents=True, exist_ok=True)
            self._jsonl = self.jsonl_path.open("a", encoding="utf-8")
        return self

    def detach(self, quiet: bool = False) -> None:
        """Complete the last step, then remove every hook; the gradient hooks already on live
        tensors become no-ops. `quiet`: what the last step fires is recorded, never raised."""
        try:
            self.flush()
        except WatchError:
            if not quiet:
                raise
        finally:
            for handle in self._handles:
                handle.remove()
            self._handles.clear()
            self._generation += 1
            self._recording = False
            self._calls, self._grads, self._open = [], {}, None
            if self._jsonl is not None:
                self._jsonl.close()
                self._jsonl = None

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    def __enter__(self) -> "Watcher":
        return self.attach()

    def __exit__(self, kind, value, trace) -> None:
        self.detach(quiet=kind is not None)  # never mask the exception leaving the block

    # -- steps ---------------------------------------------------------------------------
    def begin_step(self, step: int | None = None, phase: str | None = None) -> None:
        """Start recording a step (numbered `step`, else the next number)."""
        self.flush()
        if step is not None:
            self.step = step
        if phase is not None:
            self.phase = phase
        self._calls, self._grads = [], {}
        self._recording = True

    def end_forward(self) -> StepRecord | None:
        """Read the step's forward figures back (one transfer), judge them, and fire."""
        if not self._recording:
            return None
        self._recording = False
        calls, self._calls = self._calls, []
        values = self._read([pair for _, inp, out in calls for pair in (inp, out)])
        rows = [Row(self.layers[k].name, self.layers[k].kind, values[2 * n], values[2 * n + 1])
                for n, (k, _, _) in enumerate(calls)]
        record = StepRecord(self.step, self.phase, rows)
        mark_context(rows)
        self.step += 1
        self.history.append(record)
        waiting = self._grads and any(v is None for v in self._grads.values())
        self._open = record if waiting else None
        events = self._forward_events(record)
        if not waiting:
            self._complete(record)
        self._fire(events)
        return record

    def flush(self) -> None:
        """Complete a step still waiting for gradients that will not come (no backward)."""
        if self._recording and self._calls:
            self.end_forward()
        if self._open is not None:
            self._gradients_done()

    # -- hooks ---------------------------------------------------------------------------
    def _model_pre_hook(self, module, args) -> None:
        self.begin_step()

    def _model_hook(self, module, args, output) -> None:
        self.end_forward()

    def _layer_hook(self, index: int):
        def hook(module, args, output):
            if not self._recording:
                return
            out = first_tensor(output)
            if out is None:
                return
            inp = _first_input(args)
            self._calls.append((index, (figures(inp), inp.numel()) if inp is not None else (None, 0),
                                (figures(out), out.numel())))
            if self.gradients and out.requires_grad:
                position = len(self._calls) - 1
                self._grads[position] = None
                out.register_hook(self._grad_hook(position, self._generation))
        return hook

    def _grad_hook(self, position: int, generation: int):
        def hook(grad):
            if generation != self._generation or self._open is None or position not in self._grads:
                return
            self._grads[position] = (figures(grad), grad.numel())
            if all(v is not None for v in self._grads.values()):
                self._gradients_done()
        return hook

    def _gradients_done(self) -> None:
        """The step's gradient figures (those that arrived) read back and judged."""
        record, self._open = self._open, None
        grads, self._grads = self._grads, {}
        keys = [k for k in sorted(grads) if grads[k] is not None]
        for key, value in zip(keys, self._read([grads[k] for k in keys])):
            if key < len(record.rows):
                record.rows[key].grad = value
        hit = last_nonfinite_gradient(record)
        self._complete(record)
        if hit is not None:
            self._fire([self._event("nonfinite-gradient", record, hit)])

    @staticmethod
    def _read(pairs: list) -> list[Figures]:
        """Every (figures, size) of the step, read back in one device-to-host transfer."""
        present = [t for t, _ in pairs if t is not None]
        if not present:
            return [Figures() for _ in pairs]
        values = iter(torch.stack([t.to(present[0].device) for t in present]).tolist())
        return [Figures.of(next(values), size) if t is not None else Figures() for t, size in pairs]

    # -- judging and firing ---------------------------------------------------------------
    def _forward_events(self, record: StepRecord) -> list[Event]:
        events = []
        found = first_nonfinite(record)
        if found is not None:
            named, _, detail = found
            events.append(self._event("nonfinite", record, named, detail))
        if self.growth is not None:
            events.extend(self._event("growth", record, i) for i in growing(record, self.growth))
        return [e for e in events if e is not None]

    def _event(self, kind: str, record: StepRecord, index: int, detail: str = "") -> Event | None:
        row = record.rows[index]
        key = (kind, row.name if kind == "growth" else "")
        if key in self._fired:
            return None
        self._fired.add(key)
        past = [r for r in self.history if r is not record]
        return Event(kind, row.name, row, index, record, trend(past, row.name), detail,
                     advice=self._advice if self.with_advice else None)

    def _fire(self, events: list[Event | None]) -> None:
        events = [e for e in events if e is not None]
        for event in events:
            self.events.append(event)
            self._write(event.to_dict())
            if self.snapshot is not None and event.kind != "growth":
                self._save_weights(event)
        raised = None
        for event in events:
            action = self.actions[event.kind]
            if action == "raise":
                raised = raised or event
            elif action == "warn":
                warnings.warn(event.report(), WatchWarning, stacklevel=_caller_level())
            elif action == "log":
                self.logger.error(event.report())
            elif callable(action):
                action(event)
        if raised is not None:
            raise WatchError(raised)

    def _complete(self, record: StepRecord) -> None:
        """A step whose figures are all in: the periodic depth profile (a training step's, once a
        step: not a validation batch's, nor a second forward of an accumulated step)."""
        if self.log_every and record.step % self.log_every == 0 and record.phase in ("", "train") \
                and record.step != self._logged:
            self._logged = record.step
            self.logger.info(profile_line(record))
            if self.logger.isEnabledFor(logging.DEBUG):
                self.logger.debug(profile_table(record))
            self._write(record.to_dict())

    def _write(self, data: dict) -> None:
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(data) + "\n")
            self._jsonl.flush()

    # -- the static side -----------------------------------------------------------------
    def owners(self, name: str) -> list[Owner]:
        """The modules above layer `name` whose class is the user's own, nearest first."""
        import inspect

        by_name = dict(all_modules(self.model))
        own = {str(p) for p in own_files(self.model)}
        found = []
        for prefix in sorted((p for p in by_name if p != name and _above(p, name)), key=len, reverse=True):
            module = by_name[prefix]
            if isinstance(module, CONTAINERS):
                continue
            try:
                file = Path(inspect.getsourcefile(type(module)) or "").resolve()
            except (TypeError, OSError):
                continue
            if str(file) not in own:
                continue
            init, missing = init_arguments(module)
            rel = name[len(prefix) + 1:] if prefix else name
            found.append(Owner(prefix, type(module).__name__, file, rel, init, missing,
                               self._weights.get(prefix)))
        return found

    def _advice(self, event: Event) -> str:
        from mambafix.guard.advice import advice

        return advice(self.owners(event.layer))

    def _save_weights(self, event: Event) -> None:
        """The state_dict of every owner of the layer, saved once, for smoke --weights."""
        by_name = dict(all_modules(self.model))
        self.snapshot.mkdir(parents=True, exist_ok=True)
        for prefix in (p for p in by_name if p != event.layer and _above(p, event.layer)):
            module = by_name[prefix]
            if isinstance(module, CONTAINERS) or prefix in self._weights:
                continue
            path = self.snapshot / f"{type(module).__name__}-step{event.step}.pt"
            torch.save(module.state_dict(), path)
            self._weights[prefix] = str(path)


def _caller_level() -> int:
    """warnings.warn's stacklevel for the first frame outside torch and this package, called from
    the function that warns: the user's line that ran the model, not a hook's."""
    import sys

    skip = (str(Path(torch.__file__).resolve().parent), str(Path(__file__).resolve().parent))
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(skip):
        frame, level = frame.f_back, level + 1
    return level


def _above(prefix: str, name: str) -> bool:
    return prefix == "" or name.startswith(prefix + ".") or name.startswith(prefix + "[")


def watch(model: nn.Module, **options) -> Watcher:
    """Attach a Watcher to `model` and return it (a context manager: its end detaches)."""
    return Watcher(model, **options).attach()
