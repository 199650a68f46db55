"""Numeric shadows: one Hypothesis property per load-bearing theorem.

A shadow states its theorem on concrete numbers, drives ``moegauge``'s own implementation (the code
that produced the evidence) and uses ``hypothesis.target`` to steer toward a violation. It records
the hash of the Lean statement it was written against (``statement_sha256`` from lean_status): when
the statement changes, the shadow is stale until someone re-reads it against the new statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.reporting import with_reporter
from hypothesis.strategies import SearchStrategy


@dataclass(frozen=True)
class Shadow:
    """A property ``fn`` over values drawn from ``strategies`` (one per positional argument)."""

    theorem: str
    statement_sha256: str
    description: str
    fn: Callable[..., None]
    strategies: tuple[SearchStrategy, ...]

    def test(self, **settings_kwargs) -> Callable[[], None]:
        """A fresh Hypothesis test of the property (a new ``@given`` wrapper on every call, so
        settings can differ between runs)."""
        return settings(**settings_kwargs)(given(*self.strategies)(self.fn))


REGISTRY: dict[str, Shadow] = {}


def shadow(theorem: str, statement_sha256: str, description: str, *, strategies: Sequence[SearchStrategy]):
    """Register ``fn`` as the shadow of ``theorem``, a property of values drawn from ``strategies``."""

    def register(fn):
        if theorem in REGISTRY:
            raise ValueError(f"{theorem} already has a shadow")
        REGISTRY[theorem] = Shadow(theorem, statement_sha256, description, fn, tuple(strategies))
        return fn

    return register


@dataclass(frozen=True)
class ShadowResult:
    theorem: str
    outcome: str  # passed | counterexample | error
    examples: int
    detail: str = ""


def run_shadow(s: Shadow, max_examples: int) -> ShadowResult:
    """Run one shadow, derandomised (same examples every run), with no example database."""
    lines: list[str] = []
    configured = s.test(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                        suppress_health_check=list(HealthCheck), print_blob=False)
    try:
        with with_reporter(lines.append):
            configured()
    except AssertionError as exc:
        notes = [n for n in getattr(exc, "__notes__", []) if n]
        detail = "\n".join([*lines, *notes, f"AssertionError: {exc}"]).strip()
        return ShadowResult(s.theorem, "counterexample", max_examples, detail)
    except Unsatisfiable as exc:
        return ShadowResult(s.theorem, "error", max_examples, f"Unsatisfiable: {exc}")
    except Exception as exc:  # noqa: BLE001 - a shadow that crashes is reported, not raised
        notes = [n for n in getattr(exc, "__notes__", []) if n]
        detail = "\n".join([*lines, *notes, f"{type(exc).__name__}: {exc}"]).strip()
        return ShadowResult(s.theorem, "error", max_examples, detail)
    return ShadowResult(s.theorem, "passed", max_examples)


def load_shadows() -> dict[str, Shadow]:
    """Import the shadow modules (registering them) and return the registry."""
    from . import properties, studies  # noqa: F401

    return REGISTRY
