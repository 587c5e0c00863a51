"""Convolutional networks: a Conv2d forward+backward, a LeNet-style training step (see
conv_cases.py) and a BatchNorm2d forward+backward (batch_norm_case.py), timed, and as
ratios to PyTorch measured in the same minute."""
from .bench_ratios import _CaseSteps, _CasesVersusTorch

CASES = ["Conv2d 64x1x28x28 -> 32, 3x3 fwd+bwd",
         "Conv2d 64x1x28x28 -> 32, 3x3 fwd+bwd, input grad too",
         "LeNet training step (batch 64)",
         "BatchNorm2d 64x32x28x28 fwd+bwd"]


class ConvVersusTorch(_CasesVersusTorch):
    params = [CASES]


class ConvTime(_CaseSteps):
    params = [CASES]
