"""A bidirectional Mamba encoder as the seed's authors first wrote it.

Four stacked `mamba_ssm.Mamba` layers per direction with nothing between them: the
activations compound until they overflow (1e26, then NaN by the third layer). The
`[BiMamba DEBUG]` prints were added while chasing that NaN and never removed.
This file is the bundled example for `mambafix check` / `mambafix apply`; it is
written for this project and reproduces the shape described in the seed's notes.
"""

import torch
import torch.nn as nn
from mamba_ssm import Mamba


class BiMamba(nn.Module):
    def __init__(self, d_model=100, n_layers=4, d_state=16, dropout=0.1):
        super().__init__()
        self.forward_layers = nn.ModuleList(
            [Mamba(d_model=d_model, d_state=d_state, d_conv=4, expand=2) for _ in range(n_layers)]
        )
        self.backward_layers = nn.ModuleList(
            [Mamba(d_model=d_model, d_state=d_state, d_conv=4, expand=2) for _ in range(n_layers)]
        )
        self.dropout = nn.Dropout(dropout)
        self.out_proj = nn.Linear(2 * d_model, d_model)

    def forward(self, x):
        # x: (batch, length, d_model)
        h_forward = x
        for i, layer in enumerate(self.forward_layers):
            h_forward = layer(h_forward)
            if torch.isnan(h_forward).any():
                print(f"[BiMamba DEBUG] NaN after forward layer {i}! Shape: {h_forward.shape}")
                print(f"[BiMamba DEBUG] Stats: min={h_forward.min().item()}, max={h_forward.max().item()}")
            else:
                print(f"[BiMamba DEBUG] Forward layer {i} OK - min={h_forward.min().item():.4f}, max={h_forward.max().item():.4f}")
            h_forward = self.dropout(h_forward)

        h_backward = torch.flip(x, dims=[1])
        for i, layer in enumerate(self.backward_layers):
            h_backward = layer(h_backward)
            if torch.isnan(h_backward).any():
                print(f"[BiMamba DEBUG] NaN after backward layer {i}!")  # remove once fixed
            h_backward = self.dropout(h_backward)
        h_backward = torch.flip(h_backward, dims=[1])

        return self.out_proj(torch.cat([h_forward, h_backward], dim=-1))
