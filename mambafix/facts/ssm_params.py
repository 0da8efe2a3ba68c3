"""The parameters an SSM layer initializes itself (its dt bias, `A_log`, `D`), as plain data: what a
model-wide init hook can overwrite (MF005). A class's summary carries the ones it holds, with
their paths, to the other files of the tree. Free of libcst."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

LINEAR = "linear"  # the bias of one of the layer's nn.Linear submodules: a hook sees that Linear
LAYER = "layer"  # a parameter of the layer itself


@dataclass(frozen=True)
class InitParam:
    path: str  # from the module that holds it: "layers.*.mixer.dt_proj.bias" ("*": any element)
    owner: str  # LINEAR or LAYER
    rank: int | None = None  # number of dimensions, where known
    no_reinit: bool = False  # the layer marks it `_no_reinit = True`
    init: str = ""  # what its own initialization targets, for messages
    layer: str = ""  # the SSM layer's class, for messages

    @property
    def name(self) -> str:
        """Its name on the module that owns it: "bias", "A_log"."""
        return self.path.rsplit(".", 1)[-1]

    @property
    def owner_path(self) -> str:
        """The path of the module that owns it: the Linear for a bias, else the layer."""
        return self.path.rpartition(".")[0]

    @property
    def local(self) -> str:
        """Its path inside the SSM layer: "dt_proj.bias", "A_log"."""
        parts = self.path.split(".")
        return ".".join(parts[-2:]) if self.owner == LINEAR else parts[-1]

    def under(self, prefix: str) -> "InitParam":
        return replace(self, path=f"{prefix}.{self.path}" if prefix else self.path)

    def to_json(self) -> list:
        return [self.path, self.owner, self.rank, self.no_reinit, self.init, self.layer]

    @classmethod
    def from_json(cls, raw: list) -> "InitParam":
        return cls(raw[0], raw[1], raw[2], bool(raw[3]), raw[4], raw[5])


MAX_PARAMS = 64  # a class holding more distinct SSM parameters keeps the first (a summary stays small)


def dedupe(params) -> tuple[InitParam, ...]:
    return tuple(dict.fromkeys(params))[:MAX_PARAMS]


def encode(params: tuple[InitParam, ...]) -> str | None:
    return json.dumps([p.to_json() for p in params], separators=(",", ":")) if params else None


def decode(text: str | None) -> tuple[InitParam, ...]:
    if not text:
        return ()
    try:
        return tuple(InitParam.from_json(raw) for raw in json.loads(text))
    except (ValueError, TypeError, IndexError, KeyError):
        return ()
