"""sorix's version, in a module of its own so that the kernel builders (which stamp
their disk caches with it) read it without importing the package."""
__version__ = "0.1.0"
