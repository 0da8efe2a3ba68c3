import torch.nn as nn
from mamba_ssm import Mamba


class Block(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.mixer = Mamba(d_model=d)

    def forward(self, x):
        return x + self.mixer(self.norm(x))


class TinyLM(nn.Module):
    def __init__(self, vocab=1000, d=128, n=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList([Block(d) for _ in range(n)])
        self.norm_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
        self.apply(self._init)

    def _init(self, module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.02)
            if module.bias is not None and not getattr(module.bias, "_no_reinit", False):
                nn.init.zeros_(module.bias)

    def forward(self, ids):
        h = self.embed(ids)
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm_f(h))
