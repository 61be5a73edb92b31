"""The RochetNet engine: a menu learned by gradient ascent (PyTorch, imported lazily)."""

from .solver import RochetNet

__all__ = ["RochetNet"]
