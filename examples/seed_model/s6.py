"""The S6 sequence model that uses the BiMamba encoder, with its own debug prints."""

import torch
import torch.nn as nn

from .bimamba import BiMamba


class S6(nn.Module):
    def __init__(self, d_input=8, d_model=100, n_layers=4, d_output=1, dropout=0.1):
        super().__init__()
        self.embed = nn.Linear(d_input, d_model)
        self.encoder = BiMamba(d_model=d_model, n_layers=n_layers, dropout=dropout)
        self.head = nn.Linear(d_model, d_output)

    def forward(self, x):
        print(f"[S6 DEBUG] input shape {x.shape}")
        h = self.encoder(self.embed(x))
        if not torch.isfinite(h).all():
            print("[S6 DEBUG] non-finite encoder output")
        out = self.head(h)
        print("[INFO] forward done")  # not a tagged debug print: kept
        return out
