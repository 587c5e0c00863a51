"""``sorix.device``: where a tensor's storage lives ('cpu' or 'cuda[:N]')."""
from .errors import DeviceError


class device:
    """A device spec: ``device('cpu')``, ``device('cuda')``, ``device('cuda', 1)``, ``device('cuda:1')``."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index=None):
        if isinstance(spec, device):
            spec, index = spec.type, spec.index if index is None else index
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string such as 'cpu' or 'cuda:0', got {spec!r}")
        kind, _, number = spec.strip().lower().partition(":")
        if kind == "gpu":  # Sorix's spelling
            kind = "cuda"
        if kind not in ("cpu", "cuda"):
            raise DeviceError(f"Invalid device type: unknown device {spec!r}; expected 'cpu', "
                              "'cuda' or 'cuda:N'")
        if number:
            if index is not None:
                raise DeviceError(f"device {spec!r} already names an index; do not pass index={index}")
            if not number.isdigit():
                raise DeviceError(f"invalid device index in {spec!r}: expected 'cuda:N' with N >= 0")
            index = int(number)
        if kind == "cpu" and index not in (None, 0):
            raise DeviceError(f"cpu device has no index {index}")
        self.type = kind
        self.index = index if kind == "cuda" else None

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (DeviceError, TypeError):
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"


CPU = device("cpu")

#: Sorix's name for the class (``from sorix.tensor import Device``).
Device = device
