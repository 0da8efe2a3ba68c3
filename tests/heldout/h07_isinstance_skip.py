import torch.nn as nn
from mamba_ssm import Mamba


class Net(nn.Module):
    def __init__(self, d=64):
        super().__init__()
        self.ssm = Mamba(d)
        self.norm = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 10)
        for m in self.modules():
            if isinstance(m, Mamba):
                continue
            self._init_one(m)

    def _init_one(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.fc(self.norm(self.ssm(x)))
