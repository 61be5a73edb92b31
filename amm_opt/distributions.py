r"""Trader value distributions.

A value distribution is either a product of independent one-dimensional marginals on a box
:math:`V = \prod_i [a_i, b_i]` with a density (``Uniform``, ``Beta``, ``TruncatedNormal``,
``Product``), or an empirical sample (``Samples``) with no density.

``Uniform``, ``Beta`` and ``TruncatedNormal`` take scalars (the same marginal for every good) or
per-good arrays. :meth:`Distribution.resolve` turns any of them into the canonical n-good form: a
:class:`Product` of scalar marginals, or :class:`Samples` with an ``(m, n)`` array.

Examples
--------
>>> from amm_opt import Uniform, Beta, Product
>>> d = Product([Uniform(0, 1), Beta(2, 2)])
>>> d.low, d.high
(array([0., 0.]), array([1., 1.]))
>>> float(d.pdf([[0.5, 0.5]])[0])
1.5
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

from .errors import DistributionError
from .parameters import as_parameter, broadcast_parameters, check_magnitude, points_array

__all__ = ["Beta", "Distribution", "Product", "Samples", "TruncatedNormal", "Uniform",
           "distribution_from_dict"]

FloatArray = NDArray[np.float64]

# Beta densities with a + b up to this use exp(xlogy + xlog1py - betaln), which loses about
# a + b ulps; above it scipy's (slower) density, consistent with its CDF to ~1e-15.
_LOG_PDF_MAX_SHAPE = 64.0


class Distribution(ABC):
    """Base class of value distributions.

    Subclasses describe the trader-value law; :meth:`resolve` gives the canonical n-good form
    used by every engine.
    """

    has_density: ClassVar[bool] = True
    kind: ClassVar[str] = ""

    @abstractmethod
    def resolve(self, goods: int) -> Product | Samples:
        """Return the canonical distribution over ``goods`` goods (raises if they do not fit)."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (inverse of :func:`distribution_from_dict`)."""


class _ScalarFamily(Distribution):
    """A family whose parameters are scalars (one marginal) or per-good arrays."""

    _param_names: ClassVar[tuple[str, ...]] = ()

    def _params(self) -> dict[str, np.ndarray]:
        return {name: np.asarray(getattr(self, name)) for name in self._param_names}

    def _store_params(self) -> dict[str, np.ndarray]:
        """Validate every parameter (finite, scalar or one per good, equal lengths, low < high),
        store scalars as floats, and return them as arrays for the family's own checks."""
        owner = type(self).__name__
        arrays = {}
        for name in self._param_names:
            arr = as_parameter(getattr(self, name), name, owner)
            arrays[name] = arr
            object.__setattr__(self, name, arr if arr.ndim else float(arr))
        broadcast_parameters(arrays, owner)
        if np.any(arrays["low"] >= arrays["high"]):
            raise DistributionError("needs low < high for every good", field=owner,
                                    value={"low": self.low, "high": self.high},
                                    allowed="low < high")
        return arrays

    @property
    def size(self) -> int | None:
        """Number of goods fixed by array parameters, or None if all parameters are scalar."""
        return broadcast_parameters(self._params(), type(self).__name__)

    @property
    def is_scalar(self) -> bool:
        return all(arr.ndim == 0 for arr in self._params().values())

    def resolve(self, goods: int) -> Product:
        size = self.size
        if size is not None and size != goods:
            raise DistributionError(
                f"has per-good parameters of length {size} but the problem has {goods} goods",
                field="values",
                value=self,
                allowed=f"scalars or arrays of length {goods}",
            )
        params = {k: np.broadcast_to(v, (goods,)) for k, v in self._params().items()}
        marginals = [type(self)(**{k: float(v[i]) for k, v in params.items()})
                     for i in range(goods)]
        return Product(marginals)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind}
        for name, arr in self._params().items():
            out[name] = arr.tolist()
        return out

    # --- one-dimensional interface, valid when ``is_scalar`` -----------------------------
    def _require_scalar(self) -> None:
        if not self.is_scalar:
            raise DistributionError(
                "this is a per-good family; resolve it for a number of goods first",
                field="values", value=self, allowed="call .resolve(goods)")

    @property
    def lower(self) -> float:
        return float(np.asarray(self.low))  # type: ignore[attr-defined]

    @property
    def upper(self) -> float:
        return float(np.asarray(self.high))  # type: ignore[attr-defined]

    @abstractmethod
    def pdf1(self, t: FloatArray) -> FloatArray:
        """Marginal density on ``[low, high]`` (0 outside)."""

    @abstractmethod
    def dpdf1(self, t: FloatArray) -> FloatArray:
        """Derivative of the marginal density (one-sided at the ends)."""

    @abstractmethod
    def cdf1(self, t: FloatArray) -> FloatArray:
        """Marginal cumulative distribution function."""

    @abstractmethod
    def ppf1(self, q: FloatArray) -> FloatArray:
        """Marginal quantile function (inverse CDF), used for sampling and QMC."""

    def sf1(self, t: FloatArray) -> FloatArray:
        """Marginal survival function ``1 - F`` (accurate in the upper tail)."""
        return 1.0 - self.cdf1(t)

    @property
    def is_uniform(self) -> bool:
        return False

    def stationary_points1(self) -> list[float]:
        """Interior points where the density's derivative changes sign (none by default)."""
        return []

    @property
    def has_bounded_derivative(self) -> bool:
        """Whether f' is bounded on the box (the signed measure needs it, see docs/model.md)."""
        return True


@dataclass(frozen=True, eq=False)
class Uniform(_ScalarFamily):
    """Uniform values on ``[low, high]`` per good (scalars broadcast to every good).

    Parameters
    ----------
    low, high : float or array of shape (goods,)
        Box ends, ``low < high``.
    """

    low: ArrayLike = 0.0
    high: ArrayLike = 1.0
    kind: ClassVar[str] = "uniform"
    _param_names: ClassVar[tuple[str, ...]] = ("low", "high")

    def __post_init__(self) -> None:
        self._store_params()

    @property
    def is_uniform(self) -> bool:
        return True

    def pdf1(self, t: FloatArray) -> FloatArray:
        t = np.asarray(t, dtype=np.float64)
        inside = (t >= self.lower) & (t <= self.upper)
        return np.where(inside, 1.0 / (self.upper - self.lower), 0.0)

    def dpdf1(self, t: FloatArray) -> FloatArray:
        return np.zeros_like(np.asarray(t, dtype=np.float64))

    def cdf1(self, t: FloatArray) -> FloatArray:
        t = np.asarray(t, dtype=np.float64)
        return np.clip((t - self.lower) / (self.upper - self.lower), 0.0, 1.0)

    def ppf1(self, q: FloatArray) -> FloatArray:
        return self.lower + np.asarray(q, dtype=np.float64) * (self.upper - self.lower)

    def __repr__(self) -> str:
        return f"Uniform(low={self.low!r}, high={self.high!r})"


@dataclass(frozen=True, eq=False)
class Beta(_ScalarFamily):
    r"""Beta(a, b) values rescaled to ``[low, high]`` per good.

    Density :math:`f(t) = \frac{s^{a-1}(1-s)^{b-1}}{B(a,b)(high-low)}`, ``s = (t-low)/(high-low)``.
    ``a, b >= 1`` so that the density is bounded; large ``a + b`` (peaked laws) stay finite.
    """

    a: ArrayLike = 2.0
    b: ArrayLike = 2.0
    low: ArrayLike = 0.0
    high: ArrayLike = 1.0
    kind: ClassVar[str] = "beta"
    _param_names: ClassVar[tuple[str, ...]] = ("a", "b", "low", "high")

    def __post_init__(self) -> None:
        arrays = self._store_params()
        if np.any(arrays["a"] < 1.0) or np.any(arrays["b"] < 1.0):
            raise DistributionError(
                "shape parameters below 1 give an unbounded density, which the measure and the "
                "quadrature cannot handle", field="Beta.a/b",
                value={"a": self.a, "b": self.b}, allowed="a >= 1 and b >= 1")

    @property
    def is_uniform(self) -> bool:
        return self.a == 1.0 and self.b == 1.0

    def _s(self, t: FloatArray) -> FloatArray:
        return (np.asarray(t, dtype=np.float64) - self.lower) / (self.upper - self.lower)

    def pdf1(self, t: FloatArray) -> FloatArray:
        s = self._s(t)
        inside = (s >= 0) & (s <= 1)
        sc = np.clip(s, 0.0, 1.0)
        if self.a + self.b <= _LOG_PDF_MAX_SHAPE:
            with np.errstate(divide="ignore", invalid="ignore"):
                val = np.exp(special.xlogy(self.a - 1, sc) + special.xlog1py(self.b - 1, -sc)
                             - special.betaln(self.a, self.b))
        else:
            val = stats.beta.pdf(sc, self.a, self.b)
        return np.where(inside, val / (self.upper - self.lower), 0.0)

    def dpdf1(self, t: FloatArray) -> FloatArray:
        # f' = f ((a-1)/s - (b-1)/(1-s)) / w inside; at the ends the limits of the two terms
        # (a-1) s^{a-2}(1-s)^{b-1} / (B w^2) and (b-1) s^{a-1}(1-s)^{b-2} / (B w^2), in log space
        # since 1/B(a, b) alone overflows for a + b above ~1100.
        s, w, a, b = np.clip(self._s(t), 0.0, 1.0), self.upper - self.lower, self.a, self.b
        log_norm = -special.betaln(a, b) - 2.0 * np.log(w)
        inside = (s > 0) & (s < 1)
        sc = np.where(inside, s, 0.5)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            left = 0.0 if a == 1 else (a - 1) * np.exp(
                special.xlogy(a - 2, s) + special.xlog1py(b - 1, -s) + log_norm)
            right = 0.0 if b == 1 else (b - 1) * np.exp(
                special.xlogy(a - 1, s) + special.xlog1py(b - 2, -s) + log_norm)
            inner = self.pdf1(self.lower + sc * w) * ((a - 1) / sc - (b - 1) / (1 - sc)) / w
        return np.where(inside, inner, left - right)

    @property
    def has_bounded_derivative(self) -> bool:
        # s^(a-2) and (1-s)^(b-2) blow up at the edges for 1 < a < 2 or 1 < b < 2.
        return all(p == 1.0 or p >= 2.0 for p in (float(self.a), float(self.b)))

    def stationary_points1(self) -> list[float]:
        if self.a > 1 and self.b > 1:
            mode = (self.a - 1) / (self.a + self.b - 2)
            return [self.lower + mode * (self.upper - self.lower)]
        return []

    def cdf1(self, t: FloatArray) -> FloatArray:
        return stats.beta.cdf(np.clip(self._s(t), 0, 1), self.a, self.b)

    def sf1(self, t: FloatArray) -> FloatArray:
        return stats.beta.sf(np.clip(self._s(t), 0, 1), self.a, self.b)

    def ppf1(self, q: FloatArray) -> FloatArray:
        return self.lower + stats.beta.ppf(np.asarray(q), self.a, self.b) * (
            self.upper - self.lower)

    def __repr__(self) -> str:
        return f"Beta(a={self.a!r}, b={self.b!r}, low={self.low!r}, high={self.high!r})"


@dataclass(frozen=True, eq=False)
class TruncatedNormal(_ScalarFamily):
    """Normal(mean, std) truncated to ``[low, high]`` per good."""

    mean: ArrayLike = 0.5
    std: ArrayLike = 0.25
    low: ArrayLike = 0.0
    high: ArrayLike = 1.0
    kind: ClassVar[str] = "truncated_normal"
    _param_names: ClassVar[tuple[str, ...]] = ("mean", "std", "low", "high")

    def __post_init__(self) -> None:
        arrays = self._store_params()
        if np.any(arrays["std"] <= 0):
            raise DistributionError("std must be positive", field="TruncatedNormal.std",
                                    value=self.std, allowed="std > 0")

    def _frozen(self) -> Any:
        frozen = self.__dict__.get("_frozen_law")
        if frozen is None:
            m, s = float(np.asarray(self.mean)), float(np.asarray(self.std))
            frozen = stats.truncnorm((self.lower - m) / s, (self.upper - m) / s, loc=m, scale=s)
            self.__dict__["_frozen_law"] = frozen
        return frozen

    def pdf1(self, t: FloatArray) -> FloatArray:
        return self._frozen().pdf(np.asarray(t, dtype=np.float64))

    def dpdf1(self, t: FloatArray) -> FloatArray:
        t = np.asarray(t, dtype=np.float64)
        m, s = float(np.asarray(self.mean)), float(np.asarray(self.std))
        inside = (t >= self.lower) & (t <= self.upper)
        dens = self._frozen().pdf(np.clip(t, self.lower, self.upper))
        return np.where(inside, -dens * (t - m) / s**2, 0.0)

    def stationary_points1(self) -> list[float]:
        m = float(np.asarray(self.mean))
        return [m] if self.lower < m < self.upper else []

    def cdf1(self, t: FloatArray) -> FloatArray:
        return self._frozen().cdf(np.asarray(t, dtype=np.float64))

    def sf1(self, t: FloatArray) -> FloatArray:
        return self._frozen().sf(np.asarray(t, dtype=np.float64))

    def ppf1(self, q: FloatArray) -> FloatArray:
        return self._frozen().ppf(np.asarray(q, dtype=np.float64))

    def __repr__(self) -> str:
        return (f"TruncatedNormal(mean={self.mean!r}, std={self.std!r}, low={self.low!r}, "
                f"high={self.high!r})")


@dataclass(frozen=True, eq=False)
class Product(Distribution):
    r"""Independent goods: :math:`f(v) = \prod_i f_i(v_i)`.

    Parameters
    ----------
    marginals : sequence of scalar ``Uniform`` / ``Beta`` / ``TruncatedNormal``
        One marginal per good.
    """

    marginals: Sequence[_ScalarFamily] = field(default_factory=tuple)
    kind: ClassVar[str] = "product"

    def __post_init__(self) -> None:
        try:
            marginals = tuple(self.marginals)
        except TypeError:
            raise DistributionError("must be a list of one-good distributions",
                                    field="Product.marginals", value=self.marginals,
                                    allowed="[Uniform(0, 1), Beta(2, 2), ...]") from None
        if not marginals:
            raise DistributionError("is empty", field="Product.marginals", value=self.marginals,
                                    allowed="one distribution per good")
        for i, m in enumerate(marginals):
            if not isinstance(m, _ScalarFamily) or not m.is_scalar:
                raise DistributionError(
                    "each entry must be a one-good Uniform, Beta or TruncatedNormal with scalar "
                    "parameters", field=f"Product.marginals[{i}]", value=m,
                    allowed="Uniform(low, high), Beta(a, b, low, high), "
                            "TruncatedNormal(mean, std, low, high)")
        object.__setattr__(self, "marginals", marginals)

    @property
    def goods(self) -> int:
        return len(self.marginals)

    @property
    def low(self) -> FloatArray:
        """Lower corner of the value box, shape (goods,)."""
        return np.array([m.lower for m in self.marginals])

    @property
    def high(self) -> FloatArray:
        """Upper corner of the value box, shape (goods,)."""
        return np.array([m.upper for m in self.marginals])

    @property
    def is_uniform(self) -> bool:
        return all(m.is_uniform for m in self.marginals)

    def resolve(self, goods: int) -> Product:
        if goods != self.goods:
            raise DistributionError(
                f"has {self.goods} marginals but the problem has {goods} goods",
                field="values", value=self, allowed=f"exactly {goods} marginals")
        return self

    def _check_points(self, v: ArrayLike) -> FloatArray:
        return points_array(v, self.goods, DistributionError)

    def marginal_pdfs(self, v: ArrayLike) -> FloatArray:
        """Per-good densities ``f_i(v_i)``, shape (m, goods)."""
        v = self._check_points(v)
        return np.column_stack([m.pdf1(v[:, i]) for i, m in enumerate(self.marginals)])

    def pdf(self, v: ArrayLike) -> FloatArray:
        """Joint density at points ``v`` of shape (m, goods); returns shape (m,)."""
        return np.prod(self.marginal_pdfs(v), axis=1)

    def grad_pdf(self, v: ArrayLike) -> FloatArray:
        r"""Gradient :math:`\nabla f(v)`, shape (m, goods)."""
        v = self._check_points(v)
        dens = self.marginal_pdfs(v)
        out = np.empty_like(v)
        for i, m in enumerate(self.marginals):
            others = np.prod(np.delete(dens, i, axis=1), axis=1)
            out[:, i] = m.dpdf1(v[:, i]) * others
        return out

    def ppf(self, q: ArrayLike) -> FloatArray:
        """Map uniform ``q`` in ``[0,1]^goods`` (shape (m, goods)) to values by inverse CDFs."""
        q = np.asarray(q, dtype=np.float64)
        return np.column_stack([m.ppf1(q[:, i]) for i, m in enumerate(self.marginals)])

    def sample(self, m: int, rng: np.random.Generator | int | None = None) -> FloatArray:
        """Draw ``m`` i.i.d. value vectors, shape (m, goods)."""
        gen = np.random.default_rng(rng)
        return self.ppf(gen.random((m, self.goods)))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "marginals": [m.to_dict() for m in self.marginals]}

    def __repr__(self) -> str:
        return f"Product({list(self.marginals)!r})"


@dataclass(frozen=True, eq=False)
class Samples(Distribution):
    """An empirical distribution: the i.i.d. sample ``values`` itself (no density).

    Parameters
    ----------
    values : array of shape (m, goods) or (m,) for one good
        Observed trader values, finite.
    """

    values: ArrayLike = field(default_factory=lambda: np.empty((0, 1)))
    has_density: ClassVar[bool] = False
    kind: ClassVar[str] = "samples"

    def __post_init__(self) -> None:
        try:
            arr = np.array(self.values, dtype=np.float64)
        except (TypeError, ValueError):
            raise DistributionError("must be a numeric array", field="Samples.values",
                                    value=self.values, allowed="array of shape (m, goods)"
                                    ) from None
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise DistributionError("must be 2-D", field="Samples.values", value=arr.shape,
                                    allowed="shape (m, goods), or (m,) for one good")
        if arr.shape[0] == 0 or arr.shape[1] == 0:
            raise DistributionError("is empty", field="Samples.values", value=arr.shape,
                                    allowed="at least one sample of at least one good")
        if not np.all(np.isfinite(arr)):
            bad = int(np.sum(~np.isfinite(arr).all(axis=1)))
            raise DistributionError(f"contains NaN or inf in {bad} rows", field="Samples.values",
                                    value="array", allowed="finite values only")
        check_magnitude(arr, "Samples.values")
        arr.setflags(write=False)
        object.__setattr__(self, "values", arr)

    @property
    def goods(self) -> int:
        return int(self.values.shape[1])  # type: ignore[union-attr]

    @property
    def low(self) -> FloatArray:
        return np.asarray(self.values).min(axis=0)

    @property
    def high(self) -> FloatArray:
        return np.asarray(self.values).max(axis=0)

    @property
    def is_uniform(self) -> bool:
        return False

    def resolve(self, goods: int) -> Samples:
        if goods != self.goods:
            raise DistributionError(
                f"samples have {self.goods} columns but the problem has {goods} goods",
                field="values", value=np.asarray(self.values).shape,
                allowed=f"shape (m, {goods})")
        return self

    def sample(self, m: int, rng: np.random.Generator | int | None = None) -> FloatArray:
        """Draw ``m`` rows with replacement (bootstrap), shape (m, goods)."""
        gen = np.random.default_rng(rng)
        arr = np.asarray(self.values)
        return arr[gen.integers(0, arr.shape[0], size=m)]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind, "values": np.asarray(self.values).tolist()}

    def __repr__(self) -> str:
        return f"Samples(<{np.asarray(self.values).shape[0]} x {self.goods}>)"


_FAMILIES: dict[str, type[Distribution]] = {
    cls.kind: cls for cls in (Uniform, Beta, TruncatedNormal, Product, Samples)
}


def distribution_from_dict(data: Any, field_name: str = "values") -> Distribution:
    """Build a distribution from :meth:`Distribution.to_dict` output (or a hand-written file)."""
    if not isinstance(data, dict) or "type" not in data:
        raise DistributionError("must be a table with a 'type' key", field=field_name, value=data,
                                allowed=f"type in {sorted(_FAMILIES)}")
    kind = str(data["type"]).lower()
    cls = _FAMILIES.get(kind)
    if cls is None:
        raise DistributionError("unknown distribution type", field=f"{field_name}.type",
                                value=data["type"], allowed=", ".join(sorted(_FAMILIES)))
    params = {k: v for k, v in data.items() if k != "type"}
    if cls is Product:
        marg = params.get("marginals")
        if not isinstance(marg, list):
            raise DistributionError("needs a list 'marginals'", field=f"{field_name}.marginals",
                                    value=marg, allowed="a list of one-good distributions")
        return Product([distribution_from_dict(m, f"{field_name}.marginals[{i}]")
                        for i, m in enumerate(marg)])  # type: ignore[misc]
    try:
        return cls(**params)
    except TypeError:
        names = [f for f in cls.__dataclass_fields__ if not f.startswith("_")]  # type: ignore
        raise DistributionError("unknown parameter", field=field_name, value=sorted(params),
                                allowed=f"{cls.__name__} takes {names}") from None
