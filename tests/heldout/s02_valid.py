import torch.nn as nn
from mamba_ssm import Mamba2


class Block(nn.Module):
    def __init__(self, d_model=256):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.mixer = Mamba2(d_model=d_model, d_state=64, headdim=64)

    def forward(self, x):
        return x + self.mixer(self.norm(x))
