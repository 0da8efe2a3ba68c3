"""Build the model a smoke target names: a class, or a factory function that returns the model.

Constructor arguments come from `--init` (a JSON object). An argument annotated with a class
(a dataclass, MambaConfig, a plain config class) is built from the JSON object given for it,
its own defaults filling the rest, or with no arguments at all when every field has a default.
An unannotated config-like argument (`configs`, `args`, ...) becomes an attribute namespace.
A required argument --init leaves out gets the value its name says (`n_layers` 2, `d_model` 64:
smoke.config_guesses), and a config object it leaves out answers each key the model reads the
same way; every such value is listed in the output. Runs in the probe process only; every mistake of the user's is a UserError (one line).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
import typing
from pathlib import Path
from types import SimpleNamespace

D_MODEL_NAMES = ("d_model", "dim", "hidden_size", "d_hidden", "embed_dim", "hidden_dim")
CONFIG_NAMES = ("configs", "config", "args", "cfg", "conf", "hparams", "params", "opt", "opts", "model_args")


class UserError(Exception):
    """A mistake in how smoke was asked to build or run the target: reported as one line, exit 2."""


class ConfigNamespace(SimpleNamespace):
    """A config object made from --init; reading a key it lacks names the key and how to give it."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise MissingConfigKey(f"the model reads {name!r} from its config, which --init does not give: "
                               f"add \"{name}\": ... to the config's JSON object")


    def __getitem__(self, name: str):  # config["hidden_size"], as a dict-like config reads
        return getattr(self, name)

    def get(self, name: str, default=None):
        return vars(self).get(name, default)

    def __contains__(self, name: str) -> bool:
        return name in vars(self)


class MissingConfigKey(AttributeError):
    pass


GUESSED: list[str] = []  # constructor values smoke chose by name (smoke.config_guesses), for the output


class GuessedConfig(ConfigNamespace):
    """A config object nobody gave (no --init for it): each key the model reads gets the value its
    name says (smoke.config_guesses), noted in GUESSED; a key the table does not know is named."""

    def __init__(self, owner: str):
        super().__init__()
        object.__setattr__(self, "_owner", owner)

    def __getattr__(self, name: str):
        from mambafix.smoke.config_guesses import guess

        if name.startswith("_"):
            raise AttributeError(name)
        value = guess(name)
        if value is None:
            raise MissingConfigKey(f"the model reads {name!r} from its config {self._owner!r}, which no --init gives "
                                   f"and smoke does not guess: pass --init '{{\"{self._owner}\": {{\"{name}\": ...}}}}'")
        setattr(self, name, value)
        GUESSED.append(f"{self._owner}.{name}={value}")
        return value

    def __getitem__(self, name: str):
        return getattr(self, name)


def namespace(value):
    if isinstance(value, dict):
        return ConfigNamespace(**{k: namespace(v) for k, v in value.items()})
    return value


def load_target(target: str):
    """The class or function a target names, imported as Python would (mambafix.smoke.importing):
    a file inside a package under its dotted name, so relative imports work."""
    from mambafix.smoke.importing import apply_plan, in_tree, missing_dependency, plan_import

    spec, _, name = target.rpartition(":")
    if not spec or not name:
        raise UserError(f"target {target!r} must be path/to/file.py:Name or package.module:Name")
    path = Path(spec)
    if spec.endswith(".py") or path.exists():
        if not path.exists():
            raise UserError(f"{spec}: no such file")
        plan = plan_import(path)
        apply_plan(plan)
        module_name, folders = plan.module, plan.paths
    else:
        folders = (str(Path.cwd()),)
        sys.path.insert(0, folders[0])
        module_name = spec
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and missing.split(".")[0] != module_name.split(".")[0] and in_tree(missing, folders) is None:
            raise UserError(missing_dependency(module_name, missing)) from None
        raise  # a module of the tree itself: the target's own bug, with its traceback
    try:
        return getattr(module, name)
    except AttributeError:
        raise UserError(f"{module_name} has no class or function {name!r}") from None


def _hints(func) -> dict:
    try:
        return typing.get_type_hints(func)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to the raw ones
        return {k: v for k, v in getattr(func, "__annotations__", {}).items() if not isinstance(v, str)}


def _config_class(annotation):
    """The class an argument is annotated with when it is a config class worth building."""
    if typing.get_origin(annotation) is typing.Union:
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = options[0] if len(options) == 1 else None
    if not inspect.isclass(annotation) or annotation.__module__ == "builtins":
        return None
    if annotation.__module__.split(".")[0] in ("torch", "typing", "collections"):
        return None
    return annotation


def all_defaults(cls) -> bool:
    if dataclasses.is_dataclass(cls):
        return all(f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
                   for f in dataclasses.fields(cls) if f.init)
    try:
        params = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


IGNORED: list[str] = []  # --init keys a config class did not take (one --init serves several classes)


def build_config(cls, value: dict, where: str):
    """The config object; keys its class does not take are left out and noted in IGNORED, so
    one --init can serve every class of a path whose configs differ."""
    fields = _field_names(cls)
    if fields is not None:
        unknown = [k for k in value if k not in fields]
        if unknown:
            IGNORED.extend(f"{cls.__name__}.{k}" for k in unknown)
            value = {k: v for k, v in value.items() if k in fields}
    try:
        return cls(**value)
    except TypeError as exc:
        raise UserError(f"cannot build {where} as {cls.__name__} from --init: {exc}") from None


def _field_names(cls) -> set[str] | None:
    """The keyword arguments a config class takes, or None when it takes any."""
    if dataclasses.is_dataclass(cls):
        return {f.name for f in dataclasses.fields(cls) if f.init}
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def arguments(func, init: dict, owner: str) -> dict:
    """Keyword arguments for `func` (a class or a factory) from the --init object; a required
    argument it lacks gets the value its name says (smoke.config_guesses), a config object a
    GuessedConfig."""
    from mambafix.smoke.config_guesses import guess

    target = func.__init__ if inspect.isclass(func) else func
    try:
        params = list(inspect.signature(target).parameters.items())
    except (TypeError, ValueError):
        return dict(init)
    if inspect.isclass(func):
        params = params[1:]
    hints = _hints(target)
    accepts_any = any(p.kind == p.VAR_KEYWORD for _, p in params)
    known = {n for n, _ in params}
    unknown = [k for k in init if k not in known]
    if unknown and not accepts_any:
        raise UserError(f"{owner} has no argument {unknown[0]!r} (its arguments: {', '.join(n for n, p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))})")
    kwargs, missing = {}, []
    for name, param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        config_cls = _config_class(hints.get(name))
        if name in init:
            value = init[name]
            if isinstance(value, dict) and config_cls is not None:
                value = build_config(config_cls, value, f"argument {name!r}")
            elif isinstance(value, dict) and name.lower() in CONFIG_NAMES and config_cls is None:
                value = namespace(value)
            kwargs[name] = value
        elif param.default is param.empty:
            if config_cls is not None and all_defaults(config_cls):
                kwargs[name] = config_cls()
            elif config_cls is None and name.lower() in CONFIG_NAMES:
                kwargs[name] = GuessedConfig(name)  # its keys by their names, as the model reads them
            elif guess(name) is not None:
                kwargs[name] = guess(name)
                GUESSED.append(f"{name}={kwargs[name]}")
            else:
                missing.append((name, config_cls))
    kwargs.update({k: v for k, v in init.items() if k not in known})
    if missing:
        name, config_cls = missing[0]
        what = f"a {config_cls.__name__}" if config_cls is not None else (
            "a config object" if name.lower() in CONFIG_NAMES else "a value")
        example = "{...}" if config_cls is not None or name.lower() in CONFIG_NAMES else "..."
        raise UserError(f"cannot build {owner}: missing constructor argument(s) {', '.join(n for n, _ in missing)}; "
                        f"pass {what} with --init '{{\"{name}\": {example}}}'")
    return kwargs


def build(obj, init: dict):
    """(model, the arguments used). `obj` is an nn.Module class or a function returning a module."""
    import torch.nn as nn

    owner = getattr(obj, "__name__", repr(obj))
    if not callable(obj):
        raise UserError(f"{owner} is neither a class nor a function")
    kwargs = arguments(obj, init, owner)
    model = obj(**kwargs)
    if not isinstance(model, nn.Module):
        raise UserError(f"{owner}(...) returned {type(model).__name__}, not a torch.nn.Module")
    return model, {k: _plain(v) for k, v in kwargs.items()}


def signature_values(obj, used: dict) -> dict:
    """The arguments used, with the constructor's own defaults for the rest (input sizes such as
    `img_size=224` are often defaults)."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return dict(used)
    defaults = {p.name: p.default for p in params if p.default is not p.empty}
    return {**defaults, **used}


def _plain(value):
    if isinstance(value, SimpleNamespace):
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def read_init(text: str) -> dict:
    """--init's value: a JSON object, or @file.json / @file.yaml holding one. Raises UserError."""
    origin = "--init"
    if text.startswith("@"):
        path = Path(text[1:])
        origin = str(path)
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UserError(f"--init {text}: cannot read {path}: {exc.strerror or exc}") from None
        if path.suffix.lower() in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise UserError(f"--init {text}: reading YAML needs PyYAML (pip install pyyaml), or give JSON") from None
            try:
                value = yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise UserError(f"{origin}: not valid YAML: {exc}") from None
        else:
            value = _json(raw, origin)
    else:
        value = _json(text, origin)
    if not isinstance(value, dict):
        raise UserError(f"{origin} must hold an object of constructor arguments, got {type(value).__name__}")
    return value


def _json(text: str, origin: str):
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{origin}: not valid JSON: {exc}") from None
