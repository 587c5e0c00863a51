"""PyTorch-style text for tensors: ``tensor([1., 2.], requires_grad=True)``."""
import numpy as np

from .kernels.backend import of

_DEFAULT_DTYPES = (np.dtype(np.float32), np.dtype(np.int64))  # bool is shown, as in Sorix


def _float_formatter(values):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return lambda v: _special(v) or ""
    magnitude = np.abs(finite)
    if np.all(finite == np.round(finite)) and magnitude.max() < 1e8:
        return lambda v: _special(v) or f"{v:.0f}."
    nonzero = magnitude[magnitude > 0]
    if magnitude.max() >= 1e8 or (nonzero.size and nonzero.min() < 1e-4):
        return lambda v: _special(v) or f"{v:.4e}"
    return lambda v: _special(v) or f"{v:.4f}"


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _padded(fmt, values):
    """Right-align every element to the widest one, as PyTorch prints."""
    width = max((len(fmt(v)) for v in values), default=0)
    return lambda v: fmt(v).rjust(width)


def format_array(data, prefix):
    if data.dtype.kind == "f":
        flat = data.astype(np.float64, copy=False).reshape(-1)
        fmt = _float_formatter(flat)
        shown = flat if flat.size <= 1000 else np.concatenate([flat[:3], flat[-3:]])
        formatter = {"float_kind": _padded(fmt, shown)}
    elif data.dtype.kind == "b":
        formatter = {"bool": lambda v: "True" if v else "False"}
    else:
        formatter = None
    if data.ndim == 0:
        return formatter["float_kind"](float(data)) if data.dtype.kind == "f" else \
            (formatter["bool"](bool(data)) if formatter else str(data.item()))
    return np.array2string(data, separator=", ", prefix=prefix, formatter=formatter,
                           threshold=1000, edgeitems=3, max_line_width=80)


def format_tensor(t):
    data = t.data
    if not isinstance(data, np.ndarray):  # a device array: print a host copy
        data = of(data).to_host(data)
    prefix = "tensor("
    body = format_array(data, prefix)
    extras = []
    if data.size == 0 and data.ndim != 1:
        extras.append(f"size={tuple(data.shape)}")
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    if data.dtype not in _DEFAULT_DTYPES:
        extras.append(f"dtype=sorix.{t.dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return prefix + ", ".join([body] + extras) + ")"
