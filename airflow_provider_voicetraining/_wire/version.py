"""The provider's version: the package root re-exports it as ``__version__``; requests carry it."""

__version__ = "0.1.0"
