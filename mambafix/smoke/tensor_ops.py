"""What PyTorch's tensor methods and functions do to a tensor's layout, as `smoke.forward_reading`
needs it (names from the torch.Tensor and torch.nn.functional references): those that keep the
axes as they are (elementwise maps, dtype and device moves, flips, padding), those that reduce
over `dim` (their `dim` still says the input has that axis), and the convolutions and pools that
take a fixed rank (batch, channels, spatial...). Plain data; imports nothing.
"""

IDENTITY_METHODS = frozenset(
    "float double half bfloat16 contiguous clone detach to cuda cpu type type_as requires_grad_ abs exp log sigmoid "
    "relu tanh neg pow sqrt rsqrt mul add sub div mul_ add_ sub_ div_ masked_fill nan_to_num clamp clip flip roll "
    "softmax log_softmax sign square sin cos expand_as fill_ zero_ normal_".split())
IDENTITY_FUNCTIONS = frozenset(
    "flip roll abs exp log sigmoid tanh relu gelu silu elu leaky_relu softplus dropout normalize layer_norm pad "
    "interpolate nan_to_num clamp sqrt square sign sin cos softmax log_softmax".split())
REDUCTIONS = frozenset("mean sum std var max min amax amin norm prod logsumexp argmax argmin median".split())
CONV_RANKS = {"conv1d": 3, "conv2d": 4, "conv3d": 5, "conv_transpose1d": 3, "conv_transpose2d": 4,
              "conv_transpose3d": 5, "avg_pool1d": 3, "avg_pool2d": 4, "max_pool1d": 3, "max_pool2d": 4}
