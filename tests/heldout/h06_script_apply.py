import torch
import torch.nn as nn
from mamba_ssm import Mamba


class Encoder(nn.Module):
    def __init__(self, d=96, n=3):
        super().__init__()
        self.layers = nn.ModuleList([Mamba(d_model=d, d_state=16) for _ in range(n)])
        self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in range(n)])

    def forward(self, x):
        for layer, norm in zip(self.layers, self.norms):
            x = norm(x + layer(x))
        return x


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Linear") != -1:
        nn.init.kaiming_normal_(m.weight)
        if m.bias is not None:
            m.bias.data.fill_(0.01)


if __name__ == "__main__":
    model = Encoder()
    model.apply(weights_init)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
