import torch
import torch.nn as nn
from mamba_ssm import Mamba2


class Forecaster(nn.Module):
    def __init__(self, d=256, horizon=24):
        super().__init__()
        self.layers = nn.ModuleList([Mamba2(d) for _ in range(3)])
        self.head = nn.Linear(d, horizon)

    def forward(self, x):
        for layer in self.layers:
            x = x + layer(x)
        return self.head(x[:, -1])


@torch.no_grad()
def predict(weights, batches):
    net = Forecaster()
    net.load_state_dict(torch.load(weights))
    net.half().cuda().eval()
    return [net(b.cuda().half()) for b in batches]
