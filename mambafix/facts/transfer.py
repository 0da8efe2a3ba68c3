"""A module's or function's summary for the data flow, as plain data (cached and passed between
files as JSON): which data parameters reach an SSM layer's input unbounded, and what each
returned element carries."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

SSM_OUT = "ssm"  # a returned value holding the module's own unbounded SSM output


@dataclass(frozen=True)
class Part:
    """One returned element: what it carries unbounded, and what it derives from."""

    taint: frozenset = frozenset()  # parameter positions and SSM_OUT
    deps: frozenset = frozenset()  # parameter positions

    def to_json(self) -> list:
        return [sorted(self.taint, key=str), sorted(self.deps)]

    @classmethod
    def from_json(cls, raw: list) -> "Part":
        return cls(frozenset(raw[0]), frozenset(raw[1]))


@dataclass(frozen=True)
class Transfer:
    params: tuple[str, ...]  # the data parameters; ("*",): every argument, as one
    sinks: frozenset = frozenset()
    parts: tuple[Part, ...] = (Part(),)
    is_tuple: bool = False
    ssm: bool = False  # is or holds an SSM layer

    @property
    def variadic(self) -> bool:
        return self.params == ("*",)

    def to_json(self) -> list:
        return [list(self.params), sorted(self.sinks), [p.to_json() for p in self.parts], self.is_tuple, self.ssm]

    @classmethod
    def from_json(cls, raw: list) -> "Transfer":
        return cls(tuple(raw[0]), frozenset(raw[1]), tuple(Part.from_json(p) for p in raw[2]), raw[3], raw[4])


def encode(transfer: Transfer) -> str:
    """A transfer as the compact text the cache and the cross-file index keep."""
    return json.dumps(transfer.to_json(), separators=(",", ":"))


@lru_cache(maxsize=4096)
def decode(text: str) -> Transfer:
    """The transfer of `encode`'s text; a warm run decodes each distinct one once."""
    return Transfer.from_json(json.loads(text))
