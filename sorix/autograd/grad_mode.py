"""Grad mode: whether operations record a graph. Thread-local, as in PyTorch."""
import functools
import threading


class _State(threading.local):
    enabled = True


_state = _State()


def is_grad_enabled():
    return _state.enabled


class _GradModeSetter:
    """Sets grad mode for a ``with`` block, and works as a function decorator."""

    mode = True

    def __enter__(self):
        self._previous = _state.enabled
        _state.enabled = self.mode

    def __exit__(self, *exc):
        _state.enabled = self._previous
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeSetter):
    """Disable graph recording: ``with sorix.no_grad():`` or ``@sorix.no_grad()``."""
    mode = False


class enable_grad(_GradModeSetter):
    """Enable graph recording inside a ``no_grad`` region."""
    mode = True


class set_grad_enabled(_GradModeSetter):
    """``set_grad_enabled(mode)``: sets grad mode at once, or for a ``with`` block."""

    def __init__(self, mode):
        self.mode = bool(mode)
        self._previous = _state.enabled
        _state.enabled = self.mode

    def __enter__(self):
        pass  # already set by the constructor, as PyTorch does

    def __call__(self, fn):
        _state.enabled = self._previous  # used as a decorator: undo the eager set
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            previous = _state.enabled
            _state.enabled = mode
            try:
                return fn(*args, **kwargs)
            finally:
                _state.enabled = previous
        return wrapper
