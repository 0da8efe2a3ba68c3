"""Effective configuration: rule data from rules/, [tool.mambafix] from pyproject, CLI flags.

Configuration is data only: it is parsed with tomllib and never executes anything.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from mambafix._version import __version__
from mambafix.catalogue import load_families, load_models, load_rules
from mambafix.smoke.settings import validate_entry

DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", ".eggs", "__pycache__",
    "build", "dist", "node_modules", "site-packages", ".mypy_cache", ".pytest_cache",
    ".ruff_cache", ".mambafix_cache", "*.egg-info",
)


DEFAULT_INCLUDE = ("*.py", "*.ipynb")  # file names a folder walk reads
DEFAULT_MAX_FILE_SIZE = 5_000_000  # bytes; a larger .py is generated data, not a model


class ConfigError(ValueError):
    """A bad key or value in the configuration; the CLI exits 2 with this message."""


@dataclass(frozen=True)
class Config:
    select: frozenset[str]
    layer_classes: tuple[str, ...]
    norm_classes: tuple[str, ...]
    norm_functions: tuple[str, ...]
    normalized_block_classes: tuple[str, ...]
    apply_wrappers: tuple[str, ...]
    module_list_classes: tuple[str, ...]
    sequential_classes: tuple[str, ...]
    ssm_signatures: tuple[tuple[str, ...], ...]
    self_normalizing_layers: tuple[tuple[str, str], ...]
    markers: tuple[str, ...]
    print_functions: tuple[str, ...]
    pure_calls: tuple[str, ...]
    norm_patterns: tuple[tuple[str, ...], ...] = ((), (), ())  # class, function and attribute name patterns
    flow_lists: tuple[tuple[str, tuple[str, ...]], ...] = ()  # rules/models.toml's lists, by key
    flow_models: tuple[str, ...] = ()  # its [[models]] entries, each as JSON
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = ()
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = DEFAULT_INCLUDE
    respect_gitignore: bool = True
    prefilter: bool = True
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    root: Path | None = None
    smoke: tuple = field(default=(), compare=False)

    def digest(self) -> str:
        """A stable hash of everything that changes findings, for the cache key."""
        payload = {f.name: _jsonable(getattr(self, f.name)) for f in fields(self) if f.name not in ("root", "smoke")}
        payload["version"] = __version__
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]

    def ignored_for(self, relpath: str) -> frozenset[str]:
        codes: set[str] = set()
        for pattern, ignored in self.per_file_ignores:
            if fnmatch.fnmatch(relpath, pattern) or fnmatch.fnmatch(Path(relpath).name, pattern):
                codes |= ignored
        return frozenset(codes)


def _jsonable(value):
    if isinstance(value, (frozenset, set)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def rule_data(rules) -> dict:
    """The rules' [data] tables merged (a key is defined by one rule): the defaults of the
    configurable lists such as markers and print_functions."""
    merged: dict = {}
    for rule in rules.values():
        for key, value in rule.data.items():
            merged.setdefault(key, value)
    return merged


def default_config() -> Config:
    families = load_families()
    rules = load_rules()
    data = rule_data(rules)
    return Config(
        select=frozenset(code for code, rule in rules.items() if rule.enabled),
        layer_classes=tuple(families["layer_classes"]),
        norm_classes=tuple(families["norm_classes"]),
        norm_functions=tuple(families["norm_functions"]),
        normalized_block_classes=tuple(families["normalized_block_classes"]),
        apply_wrappers=tuple(families["apply_wrappers"]),
        module_list_classes=tuple(families["module_list_classes"]),
        sequential_classes=tuple(families["sequential_classes"]),
        ssm_signatures=tuple(tuple(sig) for sig in families["ssm_signatures"]),
        self_normalizing_layers=tuple(sorted(families["self_normalizing_layers"].items())),
        markers=tuple(data["markers"]),
        print_functions=tuple(data["print_functions"]),
        pure_calls=tuple(data["pure_calls"]),
        norm_patterns=tuple(tuple(families.get(key, ())) for key in
                            ("norm_name_patterns", "norm_function_patterns", "norm_attribute_patterns")),
        **models_fields(load_models()),
    )


def models_fields(models: dict) -> dict:
    """The Config fields that hold rules/models.toml: its lists, and its [[models]] entries."""
    lists = tuple(sorted((k, tuple(v)) for k, v in models.items() if k != "models"))
    entries = tuple(json.dumps(entry, sort_keys=True) for entry in models.get("models", ()))
    return {"flow_lists": lists, "flow_models": entries}


def find_pyproject(start: Path) -> Path | None:
    start = start.resolve()
    for folder in (start, *start.parents) if start.is_dir() else (start.parent, *start.parent.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _codes(key: str, value) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key}: expected a list of rule codes, got {value!r}")
    known = load_rules()
    out = set()
    for code in value:
        code = code.strip().upper()
        if code == "ALL":
            out |= set(known)
            continue
        matched = {c for c in known if c.startswith(code)} if code else set()
        if not matched:
            raise ConfigError(f"{key}: unknown rule code {code!r} (known: {', '.join(sorted(known))})")
        out |= matched
    return frozenset(out)


def _strings(key: str, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{key}: expected a list of non-empty strings, got {value!r}")
    return tuple(value)


def _merge(base: tuple[str, ...], extra: tuple[str, ...]) -> tuple[str, ...]:
    return base + tuple(v for v in extra if v not in base)


_LIST_EXTENSIONS = {
    "extra-layer-classes": "layer_classes",
    "extra-norm-classes": "norm_classes",
    "extra-norm-functions": "norm_functions",
    "extra-normalized-blocks": "normalized_block_classes",
    "extra-markers": "markers",
    "extra-print-functions": "print_functions",
    "extend-exclude": "extend_exclude",
    "extend-include": "include",
}
_LIST_REPLACEMENTS = {"markers": "markers", "exclude": "exclude", "include": "include"}
KNOWN_KEYS = frozenset(
    {"select", "ignore", "extend-select", "per-file-ignores", "respect-gitignore", "max-file-size", "smoke"}
    | set(_LIST_EXTENSIONS)
    | set(_LIST_REPLACEMENTS)
)


def apply_table(config: Config, table: dict, origin: str) -> Config:
    """Merge a [tool.mambafix] table into a config; every key and value is checked."""
    if not isinstance(table, dict):
        raise ConfigError(f"{origin}: [tool.mambafix] must be a table")
    unknown = sorted(set(table) - KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{origin}: unknown key {unknown[0]!r} in [tool.mambafix] (known: {', '.join(sorted(KNOWN_KEYS))})")
    changes: dict = {}
    select = set(config.select)
    if "select" in table:
        select = set(_codes(f"{origin}: select", table["select"]))
    if "extend-select" in table:
        select |= _codes(f"{origin}: extend-select", table["extend-select"])
    if "ignore" in table:
        select -= _codes(f"{origin}: ignore", table["ignore"])
    changes["select"] = frozenset(select)
    for key, attr in _LIST_REPLACEMENTS.items():
        if key in table:
            changes[attr] = _strings(f"{origin}: {key}", table[key])
    for key, attr in _LIST_EXTENSIONS.items():
        if key in table:
            changes[attr] = _merge(changes.get(attr, getattr(config, attr)), _strings(f"{origin}: {key}", table[key]))
    if "per-file-ignores" in table:
        pfi = table["per-file-ignores"]
        if not isinstance(pfi, dict):
            raise ConfigError(f"{origin}: per-file-ignores must be a table of pattern = [codes]")
        changes["per_file_ignores"] = tuple(
            (pattern, _codes(f"{origin}: per-file-ignores.{pattern}", codes)) for pattern, codes in pfi.items()
        )
    if "respect-gitignore" in table:
        if not isinstance(table["respect-gitignore"], bool):
            raise ConfigError(f"{origin}: respect-gitignore must be true or false")
        changes["respect_gitignore"] = table["respect-gitignore"]
    if "max-file-size" in table:
        size = table["max-file-size"]
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise ConfigError(f"{origin}: max-file-size must be a positive number of bytes, got {size!r}")
        changes["max_file_size"] = size
    if "smoke" in table:
        smoke = table["smoke"]
        entries = smoke if isinstance(smoke, list) else [smoke]
        if not all(isinstance(e, dict) for e in entries):
            raise ConfigError(f"{origin}: [tool.mambafix.smoke] must be a table or an array of tables")
        try:
            changes["smoke"] = tuple(validate_entry(e, origin) for e in entries)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    return replace(config, **changes)


def load_config(paths: list[Path] | None = None, config_file: Path | None = None) -> Config:
    """The effective configuration for a run over `paths`.

    The nearest pyproject.toml above the first path (or the working directory), unless
    `config_file` names one (a pyproject.toml, or a mambafix.toml whose top level is the table).
    """
    config = default_config()
    if config_file is not None:
        source = Path(config_file)
    else:
        anchor = Path(paths[0]) if paths and str(paths[0]) != "-" else Path.cwd()
        source = find_pyproject(anchor if anchor.exists() else Path.cwd())
    if source is None:
        return replace(config, root=Path.cwd().resolve())
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot read configuration: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    if source.name == "pyproject.toml":
        table = data.get("tool", {}).get("mambafix")
    else:
        table = data.get("tool", {}).get("mambafix", data)
    config = replace(config, root=source.parent.resolve())
    if table is None:
        return config
    return apply_table(config, table, str(source))


def with_cli_overrides(
    config: Config,
    select: list[str] | None = None,
    extend_select: list[str] | None = None,
    ignore: list[str] | None = None,
    markers: list[str] | None = None,
    layer_classes: list[str] | None = None,
    no_prefilter: bool = False,
) -> Config:
    table: dict = {}
    if select:
        table["select"] = _split(select)
    if extend_select:
        table["extend-select"] = _split(extend_select)
    if ignore:
        table["ignore"] = _split(ignore)
    if markers:
        table["extra-markers"] = list(markers)
    if layer_classes:
        table["extra-layer-classes"] = list(layer_classes)
    config = apply_table(config, table, "command line") if table else config
    if no_prefilter:
        config = replace(config, prefilter=False)
    return config


def _split(values: list[str]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]
