"""Values for constructor arguments nobody gave, by what their names say: what smoke builds a
model with when `--init` leaves out a required argument (`n_layers`) or a whole config object
(`MambaEncoder(args)` reading `args.encoder_dim`, `args.num_layers`).

A probe judges how a model's stack carries the scale of its input, which its structure decides
(norms between layers or not), not its sizes: any small valid size shows it. So a width gets
64, a count of layers 2, the selective-SSM sizes mamba_ssm's own defaults (`Mamba(d_state=16,
d_conv=4, expand=2)`, mamba_ssm/modules/mamba_simple.py), an input or output size 8 (the input
is then inferred to match), a dropout 0.1. A name not in this table is not guessed: the run
says which key the model read. Every guess is listed in the output ("constructor values
guessed: args.encoder_dim=64, ...") with how to set it. Plain data; imports nothing.
"""

from __future__ import annotations

GUESSES: tuple[tuple[tuple[str, ...], int | float], ...] = (
    (("d_model", "dim", "hidden_size", "d_hidden", "embed_dim", "hidden_dim", "encoder_dim", "emb_dim",
      "embedding_size", "embedding_dim", "n_embd", "d_ff", "model_dim", "dim_model", "hidden_units", "n_hidden",
      "hidden", "width", "feature_dim", "d_inner_model"), 64),
    (("n_layers", "num_layers", "n_layer", "e_layers", "d_layers", "depth", "num_blocks", "n_blocks", "nlayers",
      "num_mamba_layers", "layers", "n_blocks_mamba"), 2),
    (("d_state", "state_dim", "ssm_d_state"), 16),
    (("d_conv", "conv_kernel", "ssm_d_conv", "kernel_size_conv"), 4),
    (("expand", "expand_factor", "ssm_expand"), 2),
    (("in_channels", "input_size", "input_dim", "enc_in", "dec_in", "c_in", "n_features", "num_features",
      "in_chans", "in_dim", "n_channels", "num_channels", "feature_size", "input_channels", "c_out", "output_dim",
      "output_size", "out_channels", "num_classes", "n_classes", "num_class", "pred_len", "horizon",
      "forecast_horizon", "out_dim", "n_outputs"), 8),
    (("dropout", "dropout_prob", "dropout_rate", "drop_rate", "p_dropout", "attn_dropout", "head_dropout"), 0.1),
)
_BY_NAME = {name: value for names, value in GUESSES for name in names}


def guess(name: str):
    """The value a missing argument or config key named `name` gets, or None."""
    return _BY_NAME.get(name) if isinstance(name, str) else None
