"""The vocabulary of facts, as enums; plain data, free of libcst (the cache stores summaries)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from mambafix.facts import ssm_params
from mambafix.facts.transfer import Transfer, decode, encode


class Kind(str, Enum):
    """What a module does to the scale of its input."""

    MAMBA = "mamba"  # a sequence mixer that does not bound its output (mamba_ssm.Mamba)
    NORM = "norm"  # a normalization (nn.LayerNorm)
    NORMALIZED = "normalized"  # a block that normalizes inside (a pre-norm residual block)
    OTHER = "other"


class Container(str, Enum):
    """What `self.<attr>` holds."""

    SINGLE = "single"
    MODULE_LIST = "modulelist"
    SEQUENTIAL = "sequential"
    PLAIN_LIST = "list"  # a Python list or tuple (its parameters are not registered)


class Shape(str, Enum):
    """How a stack is applied in sequence."""

    LOOP = "loop"  # for layer in self.layers: h = layer(h)
    INDEX_LOOP = "index-loop"  # for i in range(n): h = self.layers[i](h)
    CHAIN = "chain"  # h = self.m1(h); h = self.m2(h)
    TIED = "tied"  # one module applied on every trip of a loop
    SEQUENTIAL = "sequential"  # an nn.Sequential called whole

    @property
    def is_loop(self) -> bool:
        return self in (Shape.LOOP, Shape.INDEX_LOOP, Shape.TIED)


class Role(str, Enum):
    """What a loop variable stands for."""

    ELEMENT = "element"  # a layer of the stack iterated
    NORM = "norm"  # a norm of a norm stack iterated alongside
    INDEX = "index"  # a position (enumerate, range)


@dataclass(frozen=True)
class ClassSummary:
    """How a class behaves when used as a layer elsewhere (a wrapper or a subclass)."""

    kind: Kind
    display: str
    d_model_param: tuple[str, int] | None = None  # (name, position) of the width argument
    # a block that builds its mixer from a class it is given (`Block(dim, mixer_cls)`) and
    # normalizes in forward: (name, position) of that argument. It is a normalized Mamba block
    # where a call passes a Mamba-family class there, and nothing known otherwise.
    mixer_param: tuple[str, int] | None = None
    # where the width argument is a config object: the attribute of it that is the width
    # (`MambaBlock(args)` reading `args.d_model`: the width is `args.d_model` at the call)
    d_model_attr: str | None = None
    transfer_text: str | None = None  # the data flow's summary of its forward (flow.transfer.encode)
    init_params_text: str | None = None  # the SSM parameters it holds that their layers initialize (ssm_params)

    @property
    def transfer(self) -> Transfer | None:
        return decode(self.transfer_text) if self.transfer_text is not None else None

    @property
    def init_params(self) -> tuple:
        return ssm_params.decode(self.init_params_text)

    @classmethod
    def of(cls, kind: "Kind", display: str, d_model_param=None, mixer_param=None, d_model_attr=None,
           transfer: Transfer | None = None, init_params: tuple = ()) -> "ClassSummary":
        return cls(kind, display, d_model_param, mixer_param, d_model_attr,
                   encode(transfer) if transfer is not None else None, ssm_params.encode(init_params))

    def to_json(self) -> list:
        return [self.kind.value, self.display, list(self.d_model_param) if self.d_model_param else None,
                list(self.mixer_param) if self.mixer_param else None, self.d_model_attr,
                self.transfer_text, self.init_params_text]

    @classmethod
    def from_json(cls, raw: list) -> "ClassSummary":
        mixer = tuple(raw[3]) if len(raw) > 3 and raw[3] else None
        attr = raw[4] if len(raw) > 4 else None
        transfer = raw[5] if len(raw) > 5 and isinstance(raw[5], str) else None
        params = raw[6] if len(raw) > 6 and isinstance(raw[6], str) else None
        return cls(Kind(raw[0]), raw[1], tuple(raw[2]) if raw[2] else None, mixer, attr, transfer, params)
