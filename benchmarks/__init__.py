"""sorix's benchmarks: the asv suite (bench_*.py) and compare.py.

From the repository root, with sorix installed in the current environment
(``pip install -e ".[dev]"``):

    asv machine --yes                           # once per machine
    asv check --python=same                     # benchmarks import and are well-formed
    asv run --quick --python=same --show-stderr # every benchmark once, installed sorix
    asv run 'HEAD^!'                            # build HEAD in a virtualenv, full timings
    asv publish && asv preview                  # HTML report under .asv/html
    python benchmarks/compare.py [--quick]      # table against NumPy, PyTorch, memory floor
    python benchmarks/compare.py --device cuda  # GPU table against PyTorch CUDA, device floor
    bash benchmarks/gpu_check.sh OUT [--wheels DIR] [--dry-run]   # the whole real-GPU check

cases.py builds each comparison case for each implementation; references.py
holds the NumPy references and the memory-floor kernels; prepare.py adapts
setup to asv 0.6.6's once-per-sample calling. gpu_cases.py holds the GPU
cases (bench_gpu.py's asv classes skip without a GPU) and gpu_env.py the
helpers of gpu_check.sh.
"""
