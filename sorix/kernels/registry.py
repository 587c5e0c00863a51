"""Every in-memory cache of compiled kernels, by name, in one place.

A builder keeps its cache in a module global made here (``_compiled =
registry.cache("elementwise")``) and reads it with a plain ``dict.get``, so
the hot path costs what it did; the registry only knows where each one is,
so that tests and diagnostics can list, count or empty them all at once.
"""
_caches = {}


def cache(name):
    """The cache called ``name`` (a dict, made on first call)."""
    return _caches.setdefault(name, {})


def names():
    """The names of the caches made so far."""
    return sorted(_caches)


def sizes():
    """``{name: number of entries}`` for every cache."""
    return {name: len(found) for name, found in sorted(_caches.items())}


def entries(*names):
    """The cached objects of the caches ``names`` (all when none is given)."""
    chosen = names or tuple(_caches)
    return [value for name in chosen for value in _caches[name].values()]


def clear(*names):
    """Empty the caches ``names`` (all when none is given): later calls compile again,
    or load from the disk cache."""
    for name in names or tuple(_caches):
        _caches[name].clear()
