"""Pure-PyTorch stand-ins for the functions models import from mamba_ssm and causal_conv1d.

Same call signatures and tensor layouts as the kernels ((batch, channels, length) for the conv
and scan functions); arguments that only tune the kernels are accepted and ignored, arguments
that change the result and are not implemented raise UnsupportedArgument by name.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mambafix.smoke.reference import UnsupportedArgument, selective_scan


def _activate(x: torch.Tensor, activation: str | None) -> torch.Tensor:
    if activation in ("silu", "swish"):
        return F.silu(x)
    if activation is None:
        return x
    raise UnsupportedArgument(f"activation {activation!r} of causal_conv1d is not supported by the reference backend")


def causal_conv1d_fn(x, weight, bias=None, seq_idx=None, initial_states=None, return_final_states=False,
                     final_states_out=None, activation=None):
    """x: (batch, dim, length); weight: (dim, width). A depthwise convolution that sees no future step."""
    if seq_idx is not None or initial_states is not None:
        raise UnsupportedArgument("causal_conv1d_fn: seq_idx / initial_states are not supported by the reference backend")
    length, width = x.shape[-1], weight.shape[-1]
    out = F.conv1d(x, weight.unsqueeze(1).to(x.dtype), None if bias is None else bias.to(x.dtype),
                   padding=width - 1, groups=x.shape[1])[..., :length]
    out = _activate(out, activation)
    if return_final_states:
        final = F.pad(x, (max(width - 1 - length, 0), 0))[..., -(width - 1):]
        if final_states_out is not None:
            final_states_out.copy_(final)
            final = final_states_out
        return out, final
    return out


def causal_conv1d_update(x, conv_state, weight, bias=None, activation=None, cache_seqlens=None, conv_state_indices=None):
    """One decoding step (x: (batch, dim) or (batch, dim, steps)); conv_state is updated in place."""
    if cache_seqlens is not None or conv_state_indices is not None:
        raise UnsupportedArgument("causal_conv1d_update: cache_seqlens / conv_state_indices are not supported by the reference backend")
    single = x.dim() == 2
    x = x.unsqueeze(-1) if single else x
    outs = []
    for t in range(x.shape[-1]):
        conv_state.copy_(torch.cat([conv_state[..., 1:], x[..., t:t + 1].to(conv_state.dtype)], dim=-1))
        y = (conv_state * weight).sum(-1)
        outs.append(y + bias if bias is not None else y)
    out = _activate(torch.stack(outs, dim=-1).to(x.dtype), activation)
    return out.squeeze(-1) if single else out


def _groups_of_one(t: torch.Tensor, name: str) -> torch.Tensor:
    """(batch, N, L), or (batch, 1, N, L) with one group, as (batch, L, N)."""
    if t.dim() == 4:
        if t.shape[1] != 1:
            raise UnsupportedArgument(f"selective_scan_fn: grouped {name} (groups > 1) is not supported by the reference backend")
        t = t[:, 0]
    if t.dim() != 3:
        raise UnsupportedArgument(f"selective_scan_fn: a time-invariant {name} is not supported by the reference backend")
    return t.transpose(1, 2)


def selective_scan_fn(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, return_last_state=False):
    """u, delta, z: (batch, dim, length); A: (dim, N); B, C: (batch, N, length). Returns (batch, dim, length)."""
    if return_last_state:
        raise UnsupportedArgument("selective_scan_fn: return_last_state is not supported by the reference backend")
    dtype = u.dtype
    delta = delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias.float()[:, None]
    if delta_softplus:
        delta = F.softplus(delta)
    D = torch.zeros(u.shape[1], device=u.device) if D is None else D.float()
    y = selective_scan(u.float().transpose(1, 2).contiguous(), delta.transpose(1, 2).contiguous(), A.float(),
                       _groups_of_one(B.float(), "B").contiguous(), _groups_of_one(C.float(), "C").contiguous(), D)
    y = y.transpose(1, 2)
    if z is not None:
        y = y * F.silu(z.float())
    return y.to(dtype)


def mamba_inner_fn(xz, conv1d_weight, conv1d_bias, x_proj_weight, delta_proj_weight, out_proj_weight,
                   out_proj_bias, A, B=None, C=None, D=None, delta_bias=None, B_proj_bias=None,
                   C_proj_bias=None, delta_softplus=True, checkpoint_lvl=1, **norms):
    """Mamba's fused forward (xz: (batch, 2*dim, length)) as separate steps; returns (batch, length, d_model)."""
    if B is not None or C is not None or B_proj_bias is not None or C_proj_bias is not None:
        raise UnsupportedArgument("mamba_inner_fn: explicit B / C are not supported by the reference backend")
    if any(v is not None for v in norms.values()):
        raise UnsupportedArgument(f"mamba_inner_fn: {', '.join(k for k, v in norms.items() if v is not None)} "
                                  "not supported by the reference backend")
    length = xz.shape[-1]
    rank, d_state = delta_proj_weight.shape[1], A.shape[-1]
    x, z = xz.chunk(2, dim=1)
    x = causal_conv1d_fn(x, conv1d_weight.reshape(conv1d_weight.shape[0], -1), conv1d_bias, activation="silu")
    dbc = F.linear(x.transpose(1, 2).reshape(-1, x.shape[1]), x_proj_weight)  # (batch*length, rank + 2N)
    delta = (dbc[:, :rank] @ delta_proj_weight.t()).reshape(x.shape[0], length, -1).transpose(1, 2)
    b = dbc[:, rank:rank + d_state].reshape(x.shape[0], length, d_state).transpose(1, 2)
    c = dbc[:, rank + d_state:].reshape(x.shape[0], length, d_state).transpose(1, 2)
    y = selective_scan_fn(x, delta, A, b, c, D, z=z, delta_bias=delta_bias, delta_softplus=delta_softplus)
    return F.linear(y.transpose(1, 2), out_proj_weight, out_proj_bias)


def layer_norm_fn(x, weight, bias, residual=None, x1=None, weight1=None, bias1=None, eps=1e-6, dropout_p=0.0,
                  rowscale=None, prenorm=False, residual_in_fp32=False, is_rms_norm=False, return_dropout_mask=False,
                  **_):
    """mamba_ssm's fused add + norm: normalizes x (+ residual); with prenorm, also returns the sum."""
    if x1 is not None or rowscale is not None or dropout_p:
        raise UnsupportedArgument("layer_norm_fn: x1 / rowscale / dropout are not supported by the reference backend")
    summed = x if residual is None else x + residual
    res = summed.float() if residual_in_fp32 else summed
    if is_rms_norm:
        s = summed.float()
        y = s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + eps)
        y = y * weight.float() + (bias.float() if bias is not None else 0)
    else:
        y = F.layer_norm(summed.float(), (summed.shape[-1],), weight.float(), None if bias is None else bias.float(), eps)
    y = y.to(x.dtype if weight is None else weight.dtype)
    return (y, res) if prenorm else y


def rms_norm_fn(x, weight, bias, residual=None, **kwargs):
    kwargs["is_rms_norm"] = True
    return layer_norm_fn(x, weight, bias, residual=residual, **kwargs)


def _kernel_only(name: str):
    def missing(*args, **kwargs):
        raise UnsupportedArgument(f"{name} (a fused Triton kernel of mamba_ssm) is not in the reference backend; "
                                  "probe on a GPU with mamba_ssm installed, or use the model's pure-PyTorch path")
    missing.__name__ = name
    return missing


mamba_chunk_scan_combined = _kernel_only("mamba_chunk_scan_combined")
mamba_split_conv1d_scan_combined = _kernel_only("mamba_split_conv1d_scan_combined")
selective_state_update = _kernel_only("selective_state_update")
