"""A one-line note on stderr the first time a process compiles a sorix kernel.

Kernels are compiled on first use and then loaded from the disk cache, so a
first run pauses where later runs do not; the note says why, once per
process::

    sorix: compiling kernels on first use; they are cached for later runs

Set ``SORIX_QUIET=1`` to silence it (``python -m sorix.warmup`` compiles the
usual kernels ahead of time).

How a real compile is told from a cache load: numba's dispatcher fires the
``numba:compile`` event (:mod:`numba.core.event`) only after its disk cache
missed, around the compile itself; a load fires nothing. The listener
notes events whose function belongs to sorix (kernels are copies of
functions in ``sorix.kernels``) and ignores everyone else's. Importing this
module registers the listener; :func:`sorix.kernels.build.jit_cached`,
through which every CPU kernel is made, imports it before the first
compile can happen. numba-cuda fires no such event for GPU kernels:
:func:`after_launch` reads a kernel's cache statistics after its first
launch instead.
"""
import os
import sys
import threading

MESSAGE = "sorix: compiling kernels on first use; they are cached for later runs"

_lock = threading.Lock()
_shown = False
#: Compiles of sorix functions seen by the listener in this process (kernels and the
#: helpers compiled inside them).
compiles = 0


def quiet():
    """Whether ``SORIX_QUIET`` asks for silence (any value but '' and '0')."""
    return os.environ.get("SORIX_QUIET", "") not in ("", "0")


def mark_shown():
    """Count the note as shown (a caller that reports compiling its own way)."""
    global _shown
    _shown = True


def show():
    """Print the note, the first time only, unless ``SORIX_QUIET`` is set."""
    global _shown
    if _shown:
        return
    with _lock:
        if _shown:
            return
        _shown = True
    if not quiet():
        try:
            sys.stderr.write(MESSAGE + "\n")
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):  # no usable stderr: nothing to say it on
            pass


def _is_sorix(function):
    module = getattr(function, "__module__", None) or ""
    return module == "sorix" or module.startswith("sorix.")


def _install():
    from numba.core import event

    class Listener(event.Listener):
        def on_start(self, ev):
            global compiles
            dispatcher = (ev.data or {}).get("dispatcher")
            if _is_sorix(getattr(dispatcher, "py_func", None)):
                compiles += 1
                show()

        def on_end(self, ev):
            pass

    event.register("numba:compile", Listener())


def after_launch(dispatcher):
    """After a GPU kernel's first launch: show the note if it was compiled, not loaded."""
    stats = getattr(dispatcher, "stats", None)
    misses = getattr(stats, "cache_misses", None)
    if misses and sum(misses.values()):
        global compiles
        compiles += 1
        show()


_install()
