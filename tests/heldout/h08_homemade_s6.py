import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class S6(nn.Module):
    def __init__(self, d, n=16, dt_min=0.001, dt_max=0.1):
        super().__init__()
        self.x_proj = nn.Linear(d, 1 + 2 * n, bias=False)
        self.dt_proj = nn.Linear(1, d)
        dt = torch.exp(torch.rand(d) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1).float().repeat(d, 1)))
        self.D = nn.Parameter(torch.ones(d))
        self.n = n

    def forward(self, x):
        dt, B, C = torch.split(self.x_proj(x), [1, self.n, self.n], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        A = -torch.exp(self.A_log)
        h = x.new_zeros(x.shape[0], x.shape[2], self.n)
        ys = []
        for t in range(x.shape[1]):
            h = torch.exp(delta[:, t, :, None] * A) * h + delta[:, t, :, None] * B[:, t, None, :] * x[:, t, :, None]
            ys.append((h * C[:, t, None, :]).sum(-1))
        return torch.stack(ys, 1) + x * self.D


class SeqModel(nn.Module):
    def __init__(self, d=32, depth=2):
        super().__init__()
        self.layers = nn.ModuleList([S6(d) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in range(depth)])
        self.apply(self._init_weights)

    def _init_weights(self, module):
        if isinstance(module, nn.Linear):
            nn.init.xavier_normal_(module.weight)
            if module.bias is not None:
                module.bias.data.zero_()

    def forward(self, x):
        for layer, norm in zip(self.layers, self.norms):
            x = x + layer(norm(x))
        return x
