import torch.nn as nn
from mamba_ssm import Mamba2


class Stack(nn.Module):
    def __init__(self, d=256, depth=6):
        super().__init__()
        self.layers = nn.ModuleList([Mamba2(d_model=d, headdim=64) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in range(depth)])
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, x):
        for layer, norm in zip(self.layers, self.norms):
            x = x + layer(norm(x))
        return x
