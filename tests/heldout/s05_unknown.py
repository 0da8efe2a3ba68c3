import torch.nn as nn
from mamba_ssm import Mamba2


class Encoder(nn.Module):
    def __init__(self, args):
        super().__init__()
        self.mixer = Mamba2(d_model=args.d_model, headdim=args.headdim)

    def forward(self, x):
        return self.mixer(x)
