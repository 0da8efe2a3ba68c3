import torch.nn as nn
from mamba_ssm import Mamba2

D_MODEL = 384


class Backbone(nn.Module):
    def __init__(self, depth=6):
        super().__init__()
        self.layers = nn.ModuleList([Mamba2(D_MODEL, d_state=64, headdim=64) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(D_MODEL) for _ in range(depth)])

    def forward(self, x):
        for layer, norm in zip(self.layers, self.norms):
            x = x + layer(norm(x))
        return x
