import torch.nn as nn
from mamba_ssm import Mamba2


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(100)
        self.mixer = Mamba2(d_model=100)

    def forward(self, x):
        return x + self.mixer(self.norm(x))
