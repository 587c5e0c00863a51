"""Differentiable operations: one module per op family."""
