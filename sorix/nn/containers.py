"""Containers: ``Sequential`` (a pipeline) and ``ModuleList`` (an indexable list of modules).

Both keep their modules in ``_items`` and report them as children named
by position (``0``, ``1`` ...) or, for ``Sequential(dict)``, by key, so
state_dict keys read ``0.W``, ``encoder.W``.
"""
import operator
from collections import OrderedDict

from .module import Module


def _require_module(value, where):
    if not isinstance(value, Module):
        raise TypeError(f"{where} holds Modules, got {type(value).__name__}")
    return value


class _Container(Module):
    def _members(self):
        for name, module in self._item_pairs():
            yield "module", name, module
        yield from super()._members()

    def __len__(self):
        return len(self._items)

    def __dir__(self):
        return list(super().__dir__()) + [k for k, _ in self._item_pairs()
                                          if not k.isdigit()]


class Sequential(_Container):
    """Applies its modules in order: ``Sequential(Linear(2, 4), ReLU(), Linear(4, 1))``.

    Also ``Sequential(OrderedDict(name=module, ...))``, whose modules are then
    reachable as attributes and by name: ``model.encoder``, ``model['encoder']``.
    """

    def __init__(self, *modules):
        super().__init__()
        items = OrderedDict()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, module in modules[0].items():
                if not isinstance(name, str) or not name or "." in name:
                    raise KeyError(f"Sequential names must be non-empty strings without '.', "
                                   f"got {name!r}")
                items[name] = _require_module(module, "Sequential")
        else:
            for i, module in enumerate(modules):
                items[str(i)] = _require_module(module, "Sequential")
        object.__setattr__(self, "_items", items)

    def _item_pairs(self):
        return self._items.items()

    def __getattr__(self, name):
        # only reached when normal lookup fails: Sequential(dict) names as attributes
        if name != "_items" and "_items" in self.__dict__ and name in self._items:
            return self._items[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name, value):
        items = self.__dict__.get("_items")
        if items is not None and name in items:  # model.encoder = ... replaces the stage
            items[name] = _require_module(value, "Sequential")
            return
        super().__setattr__(name, value)

    def _key(self, index):
        if isinstance(index, str):
            if index not in self._items:
                raise KeyError(f"Sequential has no module named {index!r}")
            return index
        i = operator.index(index)
        n = len(self._items)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for a Sequential of {n} modules")
        return list(self._items)[i % n]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._items.items())[index]))
        return self._items[self._key(index)]

    def __setitem__(self, index, module):
        self._items[self._key(index)] = _require_module(module, "Sequential")

    def __delitem__(self, index):
        keys = list(self._items)[index] if isinstance(index, slice) else [self._key(index)]
        numbered = self._numbered()
        for key in keys:
            del self._items[key]
        if numbered:  # positions stay 0, 1, ... as in PyTorch (state_dict keys follow)
            self._renumber(list(self._items.values()))

    def _numbered(self):
        """Whether the keys are the positions 0, 1, ... (not names given in a dict)."""
        return all(key == str(i) for i, key in enumerate(self._items))

    def _renumber(self, modules):
        self._items.clear()
        for i, module in enumerate(modules):
            self._items[str(i)] = module

    def __iter__(self):
        return iter(self._items.values())

    def append(self, module):
        """Add ``module`` at the end, under the next free position number."""
        module = _require_module(module, "Sequential")
        n = len(self._items)
        while str(n) in self._items:  # (only names given in a dict can hold a number)
            n += 1
        self._items[str(n)] = module
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        """Put ``module`` before position ``index`` (negative counts from the end, as in
        ``list.insert``); the positions are numbered again."""
        module = _require_module(module, "Sequential")
        if not self._numbered():
            raise TypeError("insert needs a Sequential numbered by position; this one's "
                            "modules are named: build a new Sequential instead")
        n = len(self._items)
        i = operator.index(index)
        if not -n <= i <= n:
            raise IndexError(f"index {i} is out of range for inserting into a Sequential "
                             f"of {n} modules")
        modules = list(self._items.values())
        modules.insert(i, module)
        self._renumber(modules)
        return self

    def pop(self, index=-1):
        """Remove the module at ``index`` (a position or a name) and return it."""
        module = self[index]
        del self[index]
        return module

    def forward(self, x):
        for module in self._items.values():
            x = module(x)
        return x


class ModuleList(_Container):
    """A list of modules whose parameters the owner sees: ``ModuleList([Linear(2, 2)] * 3)``."""

    def __init__(self, modules=None):
        super().__init__()
        object.__setattr__(self, "_items", [])
        if modules is not None:
            self.extend(modules)

    def _item_pairs(self):
        return ((str(i), m) for i, m in enumerate(self._items))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(self._items[index])
        return self._items[self._index(index)]

    def _index(self, index):
        i = operator.index(index)
        n = len(self._items)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for a ModuleList of {n} modules")
        return i

    def __setitem__(self, index, module):
        self._items[self._index(index)] = _require_module(module, "ModuleList")

    def __delitem__(self, index):
        if isinstance(index, slice):
            del self._items[index]
        else:
            del self._items[self._index(index)]

    def __iter__(self):
        return iter(list(self._items))

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self._items) + list(other))

    def append(self, module):
        self._items.append(_require_module(module, "ModuleList"))
        return self

    def extend(self, modules):
        if isinstance(modules, Module) and not isinstance(modules, ModuleList):
            raise TypeError("ModuleList.extend expects an iterable of Modules, got a Module; "
                            "use append")
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        self._items.insert(index, _require_module(module, "ModuleList"))

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(); iterate over it and call "
                                  "each module")
