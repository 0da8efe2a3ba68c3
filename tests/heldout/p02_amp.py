import torch
import torch.nn as nn
from mamba_ssm import Mamba


class SeqClassifier(nn.Module):
    def __init__(self, d_in=12, d=128, n_classes=4, depth=4):
        super().__init__()
        self.inp = nn.Linear(d_in, d)
        self.layers = nn.ModuleList([Mamba(d) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(d) for _ in range(depth)])
        self.head = nn.Linear(d, n_classes)

    def forward(self, x):
        h = self.inp(x)
        for layer, norm in zip(self.layers, self.norms):
            h = norm(h + layer(h))
        return self.head(h.mean(1))


def train(loader, epochs=3):
    model = SeqClassifier().cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    scaler = torch.cuda.amp.GradScaler()
    for _ in range(epochs):
        for x, y in loader:
            with torch.autocast(device_type="cuda", dtype=torch.float16):
                logits = model(x.cuda().half())
                loss = nn.functional.cross_entropy(logits, y.cuda())
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
