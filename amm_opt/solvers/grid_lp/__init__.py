"""The certified grid LP engine: a menu and a certified upper bound on a grid of the value box."""

from .solver import GridLP, GridLPProgress

__all__ = ["GridLP", "GridLPProgress"]
