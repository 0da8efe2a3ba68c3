"""A correct control: pre-norm residual Mamba blocks. mambafix reports nothing here."""

import torch.nn as nn
from mamba_ssm import Mamba


class PreNormBlock(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.mixer = Mamba(d_model=d_model)

    def forward(self, x):
        return x + self.mixer(self.norm(x))


class PreNormEncoder(nn.Module):
    def __init__(self, d_model=100, n_layers=4):
        super().__init__()
        self.blocks = nn.ModuleList([PreNormBlock(d_model) for _ in range(n_layers)])
        self.final_norm = nn.LayerNorm(d_model)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        return self.final_norm(x)
