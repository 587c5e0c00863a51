"""classification_report: precision, recall, F1 and support per class, with averages."""
import numpy as np

from ._inputs import label_pair
from .classification import (average_scores, class_counts, ratio_scores, sorted_classes,
                             zero_division_value)


def classification_report(y_true, y_pred, *, labels=None, target_names=None,
                          output_dict=False, zero_division="warn", digits=2):
    """Per-class precision, recall, F1 and support, then accuracy, macro and weighted averages.

    Classes are ``labels`` (in that order) or every label seen, sorted; they are
    shown as ``target_names`` when given (one name per class). Accuracy is over
    all samples. Returns the table as a string, or with ``output_dict=True`` a
    dict keyed by class name (``str(label)``), ``'accuracy'``, ``'macro avg'``
    and ``'weighted avg'``, each class and average holding ``'precision'``,
    ``'recall'``, ``'f1-score'`` and ``'support'``. ``zero_division`` as in
    :func:`precision_score`.
    """
    zero_division_value(zero_division)
    y_true, y_pred = label_pair(y_true, y_pred)
    classes = sorted_classes(y_true, y_pred, labels)
    if target_names is None:
        names = [str(c) for c in classes.tolist()]
    else:
        names = [str(name) for name in target_names]
        if len(names) != len(classes):
            raise ValueError(f"The length of target_names does not match the number of labels "
                             f"({len(names)} names for {len(classes)} classes "
                             f"{classes.tolist()}): pass one name per class, or labels= to "
                             f"choose the classes")
    counts = class_counts(y_true, y_pred, classes)
    support = counts[2]
    per_metric = {key: ratio_scores(metric, *counts, zero_division, classes.tolist())
                  for key, metric in (("precision", "precision"), ("recall", "recall"),
                                      ("f1-score", "f1"))}
    report = {name: {**{key: float(per_metric[key][i]) for key in per_metric},
                     "support": int(support[i])}
              for i, name in enumerate(names)}
    total = int(support.sum())
    report["accuracy"] = float(np.count_nonzero(y_true == y_pred) / y_true.size)
    for title, average in (("macro avg", "macro"), ("weighted avg", "weighted")):
        report[title] = {**{key: average_scores(per_metric[key], support, average,
                                                zero_division) for key in per_metric},
                         "support": total}
    if output_dict:
        return report
    return _as_table(report, names, digits)


def _as_table(report, names, digits):
    label_width = max([12] + [len(name) + 1 for name in names])
    width = 9 + max(0, digits - 2)
    keys = ("precision", "recall", "f1-score")

    def row(title, scores):
        values = "".join(f"{scores[key]:>{width}.{digits}f}" for key in keys)
        return f"{title:<{label_width}}{values}{scores['support']:>{width}}"

    header = " " * label_width + "".join(f"{k:>{width}}" for k in keys + ("support",))
    lines = [header] + [row(name, report[name]) for name in names] + [""]
    total = report["macro avg"]["support"]
    lines.append(f"{'accuracy':<{label_width}}{'':>{2 * width}}"
                 f"{report['accuracy']:>{width}.{digits}f}{total:>{width}}")
    lines += [row(title, report[title]) for title in ("macro avg", "weighted avg")]
    return "\n".join(lines)
