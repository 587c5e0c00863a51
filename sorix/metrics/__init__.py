"""Regression and classification metrics (``sorix.metrics``).

Every metric takes Tensors (CPU or GPU), NumPy arrays, lists or pandas
Series, and returns Python floats (per-class scores and the confusion matrix
are NumPy arrays).
"""
from .classification import (accuracy_score, confusion_matrix, f1_score, precision_score,
                             recall_score)
from .regression import (mean_absolute_error, mean_absolute_percentage_error,
                         mean_squared_error, r2_score, regression_report,
                         root_mean_squared_error)
from .report import classification_report
from .threshold import find_optimal_threshold

__all__ = ["mean_squared_error", "root_mean_squared_error", "mean_absolute_error",
           "mean_absolute_percentage_error", "r2_score", "regression_report",
           "accuracy_score", "confusion_matrix", "precision_score", "recall_score", "f1_score",
           "classification_report", "find_optimal_threshold"]
