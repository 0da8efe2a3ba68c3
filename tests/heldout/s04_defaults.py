import torch.nn as nn
from mamba_ssm import Mamba2


class Encoder(nn.Module):
    def __init__(self, d_model=96, d_state=128, headdim=32, n_layers=2):
        super().__init__()
        self.layers = nn.ModuleList(
            [Mamba2(d_model=d_model, d_state=d_state, headdim=headdim) for _ in range(n_layers)]
        )

    def forward(self, x):
        for layer in self.layers:
            x = x + layer(x)
        return x
