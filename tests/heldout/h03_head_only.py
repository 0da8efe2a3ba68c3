import torch.nn as nn
from mamba_ssm import Mamba


def init_linear(m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            m.bias.data.zero_()


class Classifier(nn.Module):
    def __init__(self, d_in=16, d=64, n_classes=5):
        super().__init__()
        self.proj = nn.Linear(d_in, d)
        self.mamba = nn.Sequential(Mamba(d), nn.LayerNorm(d), Mamba(d), nn.LayerNorm(d))
        self.head = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, n_classes))
        self.head.apply(init_linear)
        self.proj.apply(init_linear)

    def forward(self, x):
        return self.head(self.mamba(self.proj(x)).mean(1))
