"""A PyTorch Lightning callback around mambafix.watch. Lightning is imported when the callback
class is first asked for, never by `import mambafix` (nor by check or apply).

    from mambafix.guard.lightning import WatchCallback
    trainer = Trainer(callbacks=[WatchCallback(log_every=100, jsonl="watch.jsonl")])

`WatchCallback` derives from `lightning.pytorch.Callback` where the `lightning` package is
installed, else from `pytorch_lightning.Callback`; `callback_class(base)` builds it on the other
one (a Trainer only takes callbacks of its own package). Steps are the trainer's: a training
batch is recorded as step `trainer.global_step` (phase "train"), a validation batch under the
same number (phase "validation"); the forward figures are judged just before backward, the
gradients' once backward is through. `module="model"` watches that submodule of the
LightningModule instead of the whole of it. With `log_every`, the SSM layers' output RMS of each
logged step also goes to the trainer's logger (`watch/<layer>/rms`). Every other option is
`mambafix.watch`'s.
"""

from __future__ import annotations


def _base():
    try:
        from lightning.pytorch import Callback
    except ImportError:
        try:
            from pytorch_lightning import Callback
        except ImportError:
            raise ImportError("mambafix.guard.lightning needs PyTorch Lightning: pip install 'mambafix[lightning]' "
                              "(or pytorch-lightning)") from None
    return Callback


def callback_class(base=None) -> type:
    """The callback class, derived from `base` (a Lightning Callback class; default: _base())."""
    from mambafix.guard.watcher import Watcher

    class WatchCallback(base or _base()):
        def __init__(self, module: str | None = None, *, log_to_trainer: bool = True, **options):
            super().__init__()
            self.module, self.log_to_trainer, self.options = module, log_to_trainer, options
            self.watcher: Watcher | None = None

        def setup(self, trainer, pl_module, stage=None):
            if self.watcher is None or not self.watcher.attached:
                model = pl_module.get_submodule(self.module) if self.module else pl_module
                self.watcher = Watcher(model, auto_step=False, **self.options).attach()

        def teardown(self, trainer, pl_module, stage=None):
            if self.watcher is not None:
                self.watcher.detach()

        def on_exception(self, trainer, pl_module, exception):
            self.teardown(trainer, pl_module)

        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            self.watcher.begin_step(trainer.global_step, "train")

        def on_before_backward(self, trainer, pl_module, loss):
            self.watcher.end_forward()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.watcher.end_forward()  # a step with no backward (manual optimisation, a skipped batch)
            self.watcher.flush()
            record = self.watcher.history[-1] if self.watcher.history else None
            every = self.watcher.log_every
            if self.log_to_trainer and every and record is not None and record.step % every == 0:
                pl_module.log_dict({f"watch/{r.name}/rms": r.out.rms for r in record.rows if r.kind == "mamba"})

        def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
            self.watcher.begin_step(trainer.global_step, "validation")

        def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
            self.watcher.end_forward()

    return WatchCallback


def __getattr__(name: str):
    if name == "WatchCallback":
        cls = callback_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)
