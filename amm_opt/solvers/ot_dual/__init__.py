"""The transport-dual engine: a certified upper bound from an explicit transport plan (POT)."""

from .solver import OTDual

__all__ = ["OTDual"]
