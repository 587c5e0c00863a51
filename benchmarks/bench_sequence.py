"""Sequence models: a 2-layer LSTM and a multi-head self-attention forward+backward (see
sequence_cases.py), timed, and as ratios to PyTorch measured in the same minute.

The LSTM runs 100 small recurrent steps per call, so it measures sorix's per-op
overhead; the attention's batched matmuls and softmax measure its kernels."""
from .bench_ratios import _CaseSteps, _CasesVersusTorch

CASES = ["LSTM 2 layers, 50 steps, batch 16, 32 -> 64, fwd+bwd",
         "MultiheadAttention batch 16, 32 tokens, 64 wide, 4 heads, fwd+bwd"]


class SequenceVersusTorch(_CasesVersusTorch):
    params = [CASES]


class SequenceTime(_CaseSteps):
    params = [CASES]
