"""TypesLP: exact optimal menus for finitely many types (``Samples``), statistical upper bounds
for densities in any dimension."""

from .solver import TypesLP

__all__ = ["TypesLP"]
