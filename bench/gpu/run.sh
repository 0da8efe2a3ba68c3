#!/usr/bin/env bash
# One device call: build mamba_ssm and causal_conv1d for sm_90 (H100/H200) from their sdists,
# then run the GPU tests and the backend benchmark (`run.sh smoke`: only the probe's agreement,
# bench/gpu/smoke_agreement.py). Logs go to $OUT (or ./gpu-out).
# Inputs, in an ignored folder .gpu/: the two sdists and a libcst wheel for the device's Python.
set -uo pipefail
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
work=/tmp/mambafix-gpu; rm -rf "$work"; mkdir -p "$work"
exec > >(tee -a "$OUT/run.log") 2>&1
python3 -m pip install -q --no-index --no-deps --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD TORCH_CUDA_ARCH_LIST=9.0
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; nvcc --version | tail -2
python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda)"

limit_to_sm90() {  # keep only the compute_90 -gencode pair in a setup.py
    python3 - "$1" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
pair = re.compile(r'cc_flag\.append\("-gencode"\)\n(\s*)cc_flag\.append\("arch=compute_(\d+),code=sm_\d+"\)')
text, n = pair.subn(lambda m: m.group(0) if m.group(2) == "90" else "pass\n" + m.group(1) + "pass", text)
open(path, "w").write(text)
print(path, "gencode pairs seen:", n)
PY
}
build() {  # $1 sdist, $2 FORCE variable
    local dir
    tar xzf "$1" -C "$work" && dir=$(ls -d "$work"/"$(basename "$1" .tar.gz)") || return 1
    limit_to_sm90 "$dir/setup.py"
    local t=$SECONDS
    (cd "$dir" && env "$2"=TRUE MAX_JOBS=16 python3 -m pip install -q --no-build-isolation --no-deps --no-index . \
        > "$OUT/build-$(basename "$1" .tar.gz).log" 2>&1) || { tail -30 "$OUT/build-$(basename "$1" .tar.gz).log"; return 1; }
    echo "built $(basename "$1") in $((SECONDS - t)) s"
}
build .gpu/causal_conv1d-*.tar.gz CAUSAL_CONV1D_FORCE_BUILD & conv=$!
build .gpu/mamba_ssm-*.tar.gz MAMBA_FORCE_BUILD; s1=$?
wait $conv; s2=$?
[ $s1 -eq 0 ] && [ $s2 -eq 0 ] || { echo "BUILD FAILED"; exit 1; }
python3 -c "import mamba_ssm, causal_conv1d, selective_scan_cuda; print('mamba_ssm', mamba_ssm.__version__)"
if [ "${1:-}" = smoke ]; then  # only the probe's kernel/reference agreement, forward and backward
    python3 bench/gpu/smoke_agreement.py 2>&1 | tee "$OUT/smoke.log"; exit "${PIPESTATUS[0]}"
fi
python3 -m pytest -m gpu tests/test_gpu.py -v -s -p no:cacheprovider 2>&1 | tee "$OUT/pytest-gpu.log"
python3 bench/gpu/backends.py 2>&1 | tee "$OUT/bench.log"
