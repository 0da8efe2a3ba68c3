import torch.nn as nn
from mamba_ssm import Mamba2


class Hybrid2(nn.Module):
    def __init__(self, d=256):
        super().__init__()
        self.ssm = Mamba2(d_model=d)
        self.norm = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def forward(self, x):
        x = x + self.ssm(self.norm(x))
        return x + self.ff(x)
