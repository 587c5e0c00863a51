"""Make this folder importable as the package ``benchmarks``, the name asv imports it
under, for the scripts run from it (compare.py, isolation.py).

numba's disk cache of the floor kernels records their module's name; importing
references.py under one name everywhere keeps the cache loadable from both asv and
the scripts. Only this folder is made importable, not the repository root (which
holds sorix's sources: the installed sorix is the one measured).
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def register():
    if "benchmarks" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "benchmarks", os.path.join(HERE, "__init__.py"), submodule_search_locations=[HERE])
    package = importlib.util.module_from_spec(spec)
    sys.modules["benchmarks"] = package
    spec.loader.exec_module(package)
