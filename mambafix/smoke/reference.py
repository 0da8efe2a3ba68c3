"""Pure-PyTorch Mamba and Mamba2 with mamba_ssm's constructor signatures and state_dict names.

The selective scan runs in chunks of time steps: inside a chunk the recurrence
h_t = exp(dA_t) h_{t-1} + BX_t is solved at once with cumulative sums in log space,
h_t = exp(c_t) (h_0 + sum_{s<=t} exp(-c_s) BX_s), c_t = sum_{r<=t} dA_r <= 0. Where a chunk's
decay is too steep for that to be exact in floating point (exp(-c) would overflow), the chunk
falls back to step-by-step updates, so a large input is never turned into a false NaN.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from mambafix.smoke.kernel_limits import enforce

CHUNK = 32  # steps solved at once in log space
# Steps materialised at once as (B, T, Din, N) tensors. One chunk keeps the working set in the
# CPU's cache; measured on 2 cores, 32 beats 64-256 by 10-20% and bounds peak memory too.
BLOCK = 32
_SAFE_LOG = 60.0  # exp(60) ~ 1e26: far inside float32 range


class UnsupportedArgument(TypeError):
    """A keyword argument (often a fork's, like Vision Mamba's `bimamba_type`) that the reference
    backend does not implement; reported by name instead of a crash."""


def refuse_unknown(owner: str, unknown: dict) -> None:
    if unknown:
        names = ", ".join(f"`{k}`" for k in unknown)
        raise UnsupportedArgument(f"fork argument {names} of {owner} not supported by the reference backend "
                                  "(mambafix's pure-PyTorch Mamba); probe on a GPU with the fork's mamba_ssm installed")


def usable(device):
    """A layer built for a CUDA device on a machine without one is built on the CPU (the probe
    moves the whole model to its own device afterwards)."""
    if device is not None and str(device).startswith("cuda") and not torch.cuda.is_available():
        return None
    return device


def _scan_steps(dA: torch.Tensor, bx: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The plain recurrence, one step at a time. dA, bx: (B, T, *S); h: (B, *S)."""
    out = []
    decay = torch.exp(dA)
    for t in range(dA.shape[1]):
        h = decay[:, t] * h + bx[:, t]
        out.append(h)
    return torch.stack(out, dim=1), h


def _scan_chunk(dA: torch.Tensor, bx: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One chunk of a general diagonal scan (Mamba2) in log space. dA (<= 0), bx: (B, T, *S)."""
    c = torch.cumsum(dA, dim=1)
    if c.numel() and float(-c[:, -1].detach().min()) < _SAFE_LOG:
        scaled = torch.cumsum(bx * torch.exp(-c), dim=1)
        states = torch.exp(c) * (h.unsqueeze(1) + scaled)
        return states, states[:, -1]
    return _scan_steps(dA, bx, h)


def _scan_block(x, delta, A, B, C, h):
    """One block of Mamba's scan; x, delta: (B, T, Din), B, C: (B, T, N), h: (B, Din, N).

    The block is cut into chunks of CHUNK steps, all solved at once: with c the within-chunk
    cumulative log-decay (c = A * cumsum(delta) <= 0, A being constant over time) and
    e = exp(-c), the states are h_t = (H + cumsum(e * bx)_t) / e_t, where H is the state
    entering the chunk; H itself is carried chunk to chunk on small (B, Din, N) tensors."""
    batch, steps, d_inner = x.shape
    n_state = A.shape[1]
    pad = (-steps) % CHUNK
    if pad:  # zero delta and zero input: neutral steps
        x, delta = F.pad(x, (0, 0, 0, pad)), F.pad(delta, (0, 0, 0, pad))
        B, C = F.pad(B, (0, 0, 0, pad)), F.pad(C, (0, 0, 0, pad))
    n_chunks = (steps + pad) // CHUNK
    delta = delta.view(batch, n_chunks, CHUNK, d_inner)
    c = torch.cumsum(delta, dim=2).unsqueeze(-1) * A  # (B, K, T, Din, N)
    if float(-c[:, :, -1].detach().min()) >= _SAFE_LOG:  # decay too steep for the log-space form
        dA = (delta.unsqueeze(-1) * A).view(batch, -1, d_inner, n_state)
        bx = (delta.reshape(batch, -1, d_inner) * x).unsqueeze(-1) * B.unsqueeze(2)
        states, h = _scan_steps(dA, bx, h)
        y = torch.einsum("btdn,btn->btd", states, C)
        return y[:, :steps], h
    e = torch.exp(c.neg_())  # c is not needed again
    weighted = (delta * x.view(batch, n_chunks, CHUNK, d_inner)).unsqueeze(-1) * B.view(batch, n_chunks, CHUNK, 1, n_state)
    scaled = torch.cumsum(weighted.mul_(e), dim=2)
    entering = []
    last_scaled, last_e = scaled[:, :, -1], e[:, :, -1]
    for k in range(n_chunks):
        entering.append(h)
        h = (h + last_scaled[:, k]) / last_e[:, k]
    states = scaled.add_(torch.stack(entering, dim=1).unsqueeze(2)).div_(e)
    y = torch.einsum("bktdn,bktn->bktd", states, C.view(batch, n_chunks, CHUNK, n_state))
    return y.reshape(batch, -1, d_inner)[:, :steps], h


def selective_scan(x, delta, A, B, C, D):
    """Mamba's scan. x, delta: (B, L, Din); A: (Din, N); B, C: (B, L, N); D: (Din,). Returns (B, L, Din)."""
    batch, length, d_inner = x.shape
    h = x.new_zeros(batch, d_inner, A.shape[1])
    y = torch.empty_like(x)
    for start in range(0, length, BLOCK):
        sl = slice(start, start + BLOCK)
        y[:, sl], h = _scan_block(x[:, sl], delta[:, sl], A, B[:, sl], C[:, sl], h)
    return y.addcmul_(x, D)


class Mamba(nn.Module):
    """mamba_ssm.modules.mamba_simple.Mamba, without the CUDA kernels."""

    def __init__(self, d_model, d_state=16, d_conv=4, expand=2, dt_rank="auto", dt_min=0.001, dt_max=0.1,
                 dt_init="random", dt_scale=1.0, dt_init_floor=1e-4, conv_bias=True, bias=False,
                 use_fast_path=True, layer_idx=None, device=None, dtype=None, **unknown):
        refuse_unknown("Mamba", unknown)
        enforce("Mamba", d_model=d_model, d_state=d_state, d_conv=d_conv, expand=expand)
        device = usable(device)
        factory = {"device": device, "dtype": dtype}
        super().__init__()
        self.d_model, self.d_state, self.d_conv, self.expand = d_model, d_state, d_conv, expand
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else dt_rank
        self.layer_idx = layer_idx
        self.in_proj = nn.Linear(d_model, self.d_inner * 2, bias=bias, **factory)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, kernel_size=d_conv, groups=self.d_inner,
                                padding=d_conv - 1, bias=conv_bias, **factory)
        self.activation = "silu"
        self.act = nn.SiLU()
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + d_state * 2, bias=False, **factory)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True, **factory)
        std = self.dt_rank ** -0.5 * dt_scale
        if dt_init == "constant":
            nn.init.constant_(self.dt_proj.weight, std)
        else:
            nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt = torch.exp(torch.rand(self.d_inner, **factory) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=dt_init_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.dt_proj.bias._no_reinit = True  # as mamba_ssm marks it: its own _init_weights skips it
        A = torch.arange(1, d_state + 1, dtype=torch.float32, device=device).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.A_log._no_weight_decay = True
        self.D = nn.Parameter(torch.ones(self.d_inner, device=device))
        self.D._no_weight_decay = True
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias, **factory)

    def forward(self, hidden_states, inference_params=None):
        length = hidden_states.shape[1]
        inference = not torch.is_grad_enabled()  # in-place where autograd is not watching: less peak memory
        x, z = self.in_proj(hidden_states).chunk(2, dim=-1)
        x = F.silu(self.conv1d(x.transpose(1, 2))[..., :length], inplace=inference).transpose(1, 2)
        dbc = self.x_proj(x)
        dt, B, C = torch.split(dbc, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(F.linear(dt, self.dt_proj.weight, self.dt_proj.bias.to(dt.dtype)))
        A = -torch.exp(self.A_log.float())
        y = selective_scan(x.float(), delta.float(), A, B.float(), C.float(), self.D.float()).to(x.dtype)
        gate = F.silu(z, inplace=inference) if inference else F.silu(z)
        return self.out_proj(y.mul_(gate) if inference else y * gate)


class RMSNormGated(nn.Module):
    def __init__(self, hidden_size, eps=1e-5, norm_before_gate=False, group_size=None, device=None, dtype=None):
        super().__init__()
        self.eps, self.norm_before_gate = eps, norm_before_gate
        self.group_size = group_size or hidden_size
        self.weight = nn.Parameter(torch.ones(hidden_size, device=device, dtype=dtype))

    def forward(self, x, z=None):
        if z is not None and not self.norm_before_gate:
            x = x * F.silu(z)
        shape = x.shape
        g = x.reshape(*shape[:-1], -1, self.group_size)
        g = g * torch.rsqrt(g.float().pow(2).mean(-1, keepdim=True) + self.eps).to(x.dtype)
        out = g.reshape(shape) * self.weight
        if z is not None and self.norm_before_gate:
            out = out * F.silu(z)
        return out


class LayerNormGated(RMSNormGated):
    """mamba_ssm.ops.triton.layernorm_gated.LayerNorm: the gated norm, mean-centred, with a bias."""

    def __init__(self, hidden_size, eps=1e-5, group_size=None, norm_before_gate=True, device=None, dtype=None):
        super().__init__(hidden_size, eps, norm_before_gate, group_size, device, dtype)
        self.bias = nn.Parameter(torch.zeros(hidden_size, device=device, dtype=dtype))

    def forward(self, x, z=None):
        if z is not None and not self.norm_before_gate:
            x = x * F.silu(z)
        shape = x.shape
        g = x.reshape(*shape[:-1], -1, self.group_size)
        g = F.layer_norm(g, (self.group_size,), eps=self.eps)
        out = g.reshape(shape) * self.weight + self.bias
        if z is not None and self.norm_before_gate:
            out = out * F.silu(z)
        return out


class Mamba2(nn.Module):
    """mamba_ssm.modules.mamba2.Mamba2, without the CUDA/Triton kernels."""

    KERNEL_LAYER = "Mamba2"  # whose sizes rules/MF007.toml checks (smoke.kernel_limits)

    def __init__(self, d_model, d_state=128, d_conv=4, conv_init=None, expand=2, headdim=64, d_ssm=None,
                 ngroups=1, A_init_range=(1, 16), D_has_hdim=False, rmsnorm=True, norm_before_gate=False,
                 dt_min=0.001, dt_max=0.1, dt_init_floor=1e-4, dt_limit=(0.0, float("inf")), bias=False,
                 conv_bias=True, chunk_size=256, use_mem_eff_path=True, layer_idx=None, process_group=None,
                 sequence_parallel=True, device=None, dtype=None, **unknown):
        refuse_unknown(type(self).__name__, unknown)
        enforce(type(self).KERNEL_LAYER, d_model=d_model, d_state=d_state, d_conv=d_conv, expand=expand,
                headdim=headdim, d_ssm=d_ssm, ngroups=ngroups)
        device = usable(device)
        factory = {"device": device, "dtype": dtype}
        super().__init__()
        self.d_model, self.d_state, self.d_conv, self.expand = d_model, d_state, d_conv, expand
        self.d_inner = int(expand * d_model)
        self.headdim, self.ngroups = headdim, ngroups
        self.d_ssm = self.d_inner if d_ssm is None else d_ssm
        self.nheads = self.d_ssm // headdim
        self.D_has_hdim, self.rmsnorm, self.dt_limit = D_has_hdim, rmsnorm, dt_limit
        d_in_proj = 2 * self.d_inner + 2 * ngroups * d_state + self.nheads
        self.in_proj = nn.Linear(d_model, d_in_proj, bias=bias, **factory)
        conv_dim = self.d_ssm + 2 * ngroups * d_state
        self.conv1d = nn.Conv1d(conv_dim, conv_dim, kernel_size=d_conv, groups=conv_dim, padding=d_conv - 1,
                                bias=conv_bias, **factory)
        if conv_init is not None:
            nn.init.uniform_(self.conv1d.weight, -conv_init, conv_init)
        self.act = nn.SiLU()
        dt = torch.exp(torch.rand(self.nheads, **factory) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=dt_init_floor)
        self.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.dt_bias._no_weight_decay = True
        A = torch.empty(self.nheads, dtype=torch.float32, device=device).uniform_(*A_init_range)
        self.A_log = nn.Parameter(torch.log(A).to(dtype=dtype) if dtype is not None else torch.log(A))
        self.A_log._no_weight_decay = True
        self.D = nn.Parameter(torch.ones(self.d_ssm if D_has_hdim else self.nheads, device=device))
        self.D._no_weight_decay = True
        if rmsnorm:
            self.norm = RMSNormGated(self.d_ssm, eps=1e-5, norm_before_gate=norm_before_gate,
                                     group_size=self.d_ssm // ngroups, **factory)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias, **factory)

    def forward(self, u, seqlen=None, seq_idx=None, cu_seqlens=None, inference_params=None):
        batch, length, _ = u.shape
        zxbcdt = self.in_proj(u)
        d_mlp = (zxbcdt.shape[-1] - 2 * self.d_ssm - 2 * self.ngroups * self.d_state - self.nheads) // 2
        z0, x0, z, xBC, dt = torch.split(
            zxbcdt, [d_mlp, d_mlp, self.d_ssm, self.d_ssm + 2 * self.ngroups * self.d_state, self.nheads], dim=-1)
        xBC = self.act(self.conv1d(xBC.transpose(1, 2))[..., :length].transpose(1, 2))
        x, B, C = torch.split(xBC, [self.d_ssm, self.ngroups * self.d_state, self.ngroups * self.d_state], dim=-1)
        dt = F.softplus(dt.float() + self.dt_bias.float())
        if self.dt_limit != (0.0, float("inf")):
            dt = dt.clamp(*self.dt_limit)
        A = -torch.exp(self.A_log.float())
        xh = x.float().reshape(batch, length, self.nheads, self.headdim)
        heads_per_group = self.nheads // self.ngroups
        Bh = B.float().reshape(batch, length, self.ngroups, self.d_state).repeat_interleave(heads_per_group, dim=2)
        Ch = C.float().reshape(batch, length, self.ngroups, self.d_state).repeat_interleave(heads_per_group, dim=2)
        h = xh.new_zeros(batch, self.nheads, self.headdim, self.d_state)
        ys = []
        for start in range(0, length, CHUNK):
            sl = slice(start, start + CHUNK)
            dA = (dt[:, sl] * A)[..., None, None].expand(-1, -1, -1, self.headdim, self.d_state)
            bx = (dt[:, sl][..., None, None] * xh[:, sl].unsqueeze(-1) * Bh[:, sl].unsqueeze(3))
            states, h = _scan_chunk(dA, bx, h)
            ys.append(torch.einsum("bthpn,bthn->bthp", states, Ch[:, sl]))
        y = torch.cat(ys, dim=1)
        D = self.D.float().reshape(self.nheads, self.headdim) if self.D_has_hdim else self.D.float()[:, None]
        y = (y + xh * D).reshape(batch, length, self.d_ssm).to(u.dtype)
        if self.rmsnorm:
            y = self.norm(y, z)
        else:
            y = y * F.silu(z)
        if d_mlp > 0:
            y = torch.cat([F.silu(z0) * x0, y], dim=-1)
        return self.out_proj(y)


class Mamba2Simple(Mamba2):
    """mamba_ssm.modules.mamba2_simple.Mamba2Simple: Mamba2 with its own defaults (d_state 64, headdim
    128, no d_ssm) and its options; `learnable_init_states` keeps no initial-state parameter here."""

    KERNEL_LAYER = "Mamba2Simple"

    def __init__(self, d_model, d_state=64, d_conv=4, conv_init=None, expand=2, headdim=128, ngroups=1,
                 A_init_range=(1, 16), dt_min=0.001, dt_max=0.1, dt_init_floor=1e-4, dt_limit=(0.0, float("inf")),
                 learnable_init_states=False, activation="swish", bias=False, conv_bias=True, chunk_size=256,
                 use_mem_eff_path=True, layer_idx=None, device=None, dtype=None, **unknown):
        super().__init__(d_model, d_state, d_conv, conv_init, expand, headdim, None, ngroups, A_init_range,
                         dt_min=dt_min, dt_max=dt_max, dt_init_floor=dt_init_floor, dt_limit=dt_limit, bias=bias,
                         conv_bias=conv_bias, chunk_size=chunk_size, use_mem_eff_path=use_mem_eff_path,
                         layer_idx=layer_idx, device=device, dtype=dtype, **unknown)


class Block(nn.Module):
    """mamba_ssm.modules.block.Block: pre-norm residual wrapper around a mixer."""

    def __init__(self, dim, mixer_cls, mlp_cls=None, norm_cls=nn.LayerNorm, fused_add_norm=False, residual_in_fp32=False):
        super().__init__()
        self.residual_in_fp32 = residual_in_fp32
        self.norm = norm_cls(dim)
        self.mixer = mixer_cls(dim)
        self.mlp = None
        if mlp_cls is not None and mlp_cls is not nn.Identity:
            self.norm2 = norm_cls(dim)
            self.mlp = mlp_cls(dim)

    def forward(self, hidden_states, residual=None, inference_params=None, **kwargs):
        residual = hidden_states + residual if residual is not None else hidden_states
        hidden_states = self.mixer(self.norm(residual.to(dtype=self.norm.weight.dtype)))
        if self.mlp is not None:
            residual = hidden_states + residual
            hidden_states = self.mlp(self.norm2(residual.to(dtype=self.norm2.weight.dtype)))
        return hidden_states, residual


LAYER_TYPES = (Mamba, Mamba2)
