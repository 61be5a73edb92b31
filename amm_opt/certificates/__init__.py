"""Certificates behind upper bounds: the data that proves a bound, typed and checkable.

* :class:`LPCertificate` — the grid LP's dual vector, pair rows and the terms of its bound;
* :class:`TransportCertificate` — an explicit transport plan (or grid flow); its cost is
  recomputed from the stored plan, so it cannot carry a bound the plan does not prove.
"""

from .lp import LPCertificate
from .transport import TransportCertificate

#: What ``Result.certificate`` holds.
Certificate = LPCertificate | TransportCertificate

__all__ = ["Certificate", "LPCertificate", "TransportCertificate"]
