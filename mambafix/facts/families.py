"""The configured families of names (rules/families.toml plus the user's extras), as matchers."""

from __future__ import annotations

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
        self.ssm_signatures = tuple(frozenset(sig) for sig in config.ssm_signatures)
        self.self_normalizing = dict(config.self_normalizing_layers)  # class -> flag that turns its norm off

    def is_ssm(self, attrs: set[str]) -> bool:
        """Whether a class that assigns these attributes is a selective SSM by its signature."""
        return any(sig <= attrs for sig in self.ssm_signatures)
