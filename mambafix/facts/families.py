"""The configured families of names (rules/families.toml, rules/models.toml and the user's
extras), as matchers and models."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

from mambafix.facts.transfer import Transfer
from mambafix.facts.transfers import transfer_from_data
from mambafix.syntax.names import Family


class Families:
    def __init__(self, config) -> None:
        self.layers = Family(config.layer_classes)
        self.norm_classes = Family(config.norm_classes)
        self.norm_functions = Family(config.norm_functions)
        self.normalized_blocks = Family(config.normalized_block_classes)
        self.apply_wrappers = Family(config.apply_wrappers)
        self.module_lists = Family(config.module_list_classes)
        self.sequentials = Family(config.sequential_classes)
        self.ssm_signatures = tuple(tuple(frozenset(part.split("|")) for part in sig) for sig in config.ssm_signatures)
        self.self_normalizing = dict(config.self_normalizing_layers)  # class -> flag that turns its norm off
        self.norm_name_patterns, self.norm_function_patterns, self.norm_attribute_patterns = config.norm_patterns
        lists = dict(config.flow_lists)
        self.lists = {key: Family(values) for key, values in lists.items()}
        self.words = {key: frozenset(values) for key, values in lists.items()}  # method and attribute names
        self.models: dict[str, Transfer] = {}
        for raw in config.flow_models:
            entry = json.loads(raw)
            transfer = transfer_from_data(entry)
            for name in entry["classes"]:
                self.models[name] = transfer

    def is_ssm(self, attrs: set[str]) -> bool:
        """Whether a class that assigns these attributes is a selective SSM by its signature (every
        part of one signature met by one of its alternatives)."""
        return any(all(part & attrs for part in sig) for sig in self.ssm_signatures)

    def listed(self, key: str, names: list[str]) -> bool:
        """Whether one of the qualified names is in the rules/models.toml list `key`."""
        family = self.lists.get(key)
        return family is not None and family.match_any(names) is not None

    def word(self, key: str, name: str) -> bool:
        """Whether a method or attribute name is in the rules/models.toml list `key`."""
        return name in self.words.get(key, ())

    def named_like_a_norm(self, names: list[str], function: bool = False) -> bool:
        """Whether a name's last part says a normalization (rules/families.toml's patterns)."""
        patterns = self.norm_function_patterns if function else self.norm_name_patterns
        return any(fnmatchcase(n.rsplit(".", 1)[-1], p) for n in names for p in patterns)

    def attribute_like_a_norm(self, attr: str) -> bool:
        """Whether an attribute's name says it holds a norm (`self.norm2`, `self.ln_f`)."""
        return any(fnmatchcase(attr.lower(), p) for p in self.norm_attribute_patterns)

    def model(self, names: list[str]) -> Transfer | None:
        for name in names:
            if name in self.models:
                return self.models[name]
        return None
