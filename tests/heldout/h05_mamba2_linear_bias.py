import torch.nn as nn
from mamba_ssm import Mamba2


class Mixer(nn.Module):
    def __init__(self, d=256, depth=4):
        super().__init__()
        self.inp = nn.Linear(32, d)
        self.layers = nn.ModuleList([Mamba2(d_model=d) for _ in range(depth)])
        self.out = nn.Linear(d, 1)
        self.apply(self._reset)

    @staticmethod
    def _reset(m):
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.constant_(m.bias, 0.0)

    def forward(self, x):
        h = self.inp(x)
        for layer in self.layers:
            h = h + layer(h)
        return self.out(h)
