import torch.nn as nn
from mamba_ssm import Mamba


class Tagger(nn.Module):
    def __init__(self, vocab=500, d=64, n_tags=9):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.mamba = nn.ModuleList([Mamba(d) for _ in range(2)])
        self.norm = nn.LayerNorm(d)
        self.out = nn.Linear(d, n_tags)
        for name, param in self.named_parameters():
            if name.startswith("mamba"):
                continue
            if "bias" in name:
                nn.init.zeros_(param)
            elif param.dim() > 1:
                nn.init.xavier_uniform_(param)

    def forward(self, ids):
        h = self.emb(ids)
        for layer in self.mamba:
            h = self.norm(h + layer(h))
        return self.out(h)
