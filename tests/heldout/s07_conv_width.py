import torch.nn as nn
from mamba_ssm import Mamba


class LongConv(nn.Module):
    def __init__(self, d=64):
        super().__init__()
        self.ssm = Mamba(d_model=d, d_state=16, d_conv=7, expand=2)

    def forward(self, x):
        return self.ssm(x)
