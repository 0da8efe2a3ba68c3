from mamba_ssm import Mamba2

layer = Mamba2(d_model=512, headdim=64, d_state=128, expand=2)
