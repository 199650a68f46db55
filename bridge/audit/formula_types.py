"""Formulas typed by their quantities: what a claim's formula computes, derived from its bindings.

Each binding has a quantity (an artifact field's declared quantity, another claim's stated
quantity, ``count`` for a lean_status field; a stated constant is a pure number). The rules below
say what each operation makes of them; they are the theorems' and the glossary's rules, written
down once:

* ``1 − c²`` of a one-bit cosine is a ``residual_energy`` (``one_bit_scale_optimal``), and so is
  ``1 − β`` (its asymptotic form); ``1 − c`` is not — it is a ``one_bit_cosine_difference``;
* ``c²`` (or ``c·c``) of a one-bit cosine is a ``beta`` — a β derived from cosines is a square —
  and ``sqrt(β)`` is a ``one_bit_cosine``;
* ``a/b`` of two values of one quantity is a ``ratio`` *of that quantity*: a ratio of bits/byte
  values is not a perplexity ratio (a claim says which ratio it states with ``ratio_of``);
  ``a/b − 1`` is a ``relative_change`` and ``1 − a/b`` a relative reduction (a ``fraction``);
* ``a − b`` of one quantity is its difference (``beta_difference``, ``fraction_difference``, …),
  not the quantity itself; ``(a − b)/(c − d)`` is a ratio of differences;
* ``2^b`` of bits per byte is a per-byte perplexity, ``exp`` of an NLL a ``ppl``, ``log`` of a
  ``ppl`` an ``nll``;
* sums and multiples keep a quantity only where that is meaningful (bytes, counts, seconds; not β).

:func:`derive` returns the formula's derived type; :func:`check_formula_quantity` compares it with
what the claim states: an operation no rule covers is a warning (the quantity cannot be derived),
a derived quantity that contradicts the stated one is an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lark import Tree

from .expr import CONSTANTS, FormulaError, parse_formula

#: Quantities whose sums and multiples are still that quantity.
EXTENSIVE = frozenset({"bytes", "count", "steps", "seconds", "nll", "bits_per_byte", "dimension", "variance"})
#: The quantity a difference of two values of a quantity is.
DIFFERENCE_OF = {
    "beta": "beta_difference",
    "one_bit_cosine": "one_bit_cosine_difference",
    "fraction": "fraction_difference",
    "ratio": "ratio_difference",
    # Changes of these are written in the quantity's own unit (e.g. Δ bits/byte of an ablation).
    "bits_per_byte": "bits_per_byte",
    "nll": "nll",
    "seconds": "seconds",
}
#: Ratios of these may be stated as a fraction (a part of a whole of the same kind).
FRACTION_OF = frozenset({"count", "bytes", "steps", "seconds", "fraction"})


@dataclass(frozen=True)
class QType:
    """A derived type: ``number`` (a pure constant, ``value`` set for a literal), ``quantity``
    (``name``), ``ratio`` (of ``name``; None when the parts differ), ``difference`` (of ``name``),
    ``relative_change``, ``reduction`` (1 − a/b), or ``unknown`` (``why`` says which rule is missing)."""

    kind: str
    name: str | None = None
    value: float | None = None
    why: str = ""

    def describe(self) -> str:
        if self.kind == "number":
            return "a pure number"
        if self.kind == "quantity":
            return f"a {self.name}"
        if self.kind == "ratio":
            return f"a ratio of {self.name} values" if self.name else "a dimensionless ratio"
        if self.kind == "difference":
            return f"a difference of {self.name} values ({DIFFERENCE_OF.get(self.name, 'no quantity of its own')})"
        if self.kind == "relative_change":
            return "a relative change a/b − 1"
        if self.kind == "reduction":
            return "a relative reduction 1 − a/b"
        return "underivable"


NUMBER = QType("number")


def q(name: str | None) -> QType:
    return QType("quantity", name) if name else unknown("a binding declares no quantity")


def binding_type(quantity: str | None, ratio_of: str | None = None) -> QType:
    """The type of a binding that states ``quantity`` (a ``ratio`` may say what it is a ratio of)."""
    if quantity == "ratio":
        return QType("ratio", ratio_of)
    if quantity == "relative_change":
        return QType("relative_change")
    return q(quantity)


def unknown(why: str) -> QType:
    return QType("unknown", why=why)


def _is_literal(t: QType, value: float) -> bool:
    return t.kind == "number" and t.value is not None and abs(t.value - value) < 1e-12


def _dimensionless(t: QType) -> bool:
    return t.kind in ("number", "ratio", "relative_change", "reduction")


def derive(text: str, bindings: Mapping[str, QType]) -> QType:
    """The type of formula ``text`` given each binding's type; raises ``FormulaError`` if it does not parse."""
    return _derive(parse_formula(text), bindings)


def _derive(node: Tree, env: Mapping[str, QType]) -> QType:
    kind, kids = node.data, node.children
    if kind == "number":
        return QType("number", value=float(kids[0]))
    if kind == "name":
        name = str(kids[0])
        if name in env:
            return env[name]
        if name in CONSTANTS:
            return QType("number", value=CONSTANTS[name].lo)
        raise FormulaError(f"unknown name {name!r}")
    if kind == "neg":
        t = _derive(kids[0], env)
        if t.kind in ("number", "difference", "unknown", "relative_change"):
            return t if t.kind != "number" or t.value is None else QType("number", value=-t.value)
        if t.kind == "quantity":
            return QType("difference", t.name)
        return unknown(f"the negation of {t.describe()}")
    if kind == "call":
        return _call(str(kids[0]), [_derive(k, env) for k in kids[1:]])
    a, b = (_derive(k, env) for k in kids)
    if a.kind == "unknown":
        return a
    if b.kind == "unknown":
        return b
    return {"add": _add, "sub": _sub, "mul": _mul, "div": _div, "pow": _pow}[kind](a, b)


def _add(a: QType, b: QType) -> QType:
    if a.kind == "number" and b.kind == "number":
        return NUMBER
    if _dimensionless(a) and _dimensionless(b):
        return QType("ratio")
    if a.kind == b.kind == "quantity" and a.name == b.name and a.name in EXTENSIVE:
        return a
    if a.kind == b.kind == "difference" and a.name == b.name:
        return a
    for x, y in ((a, b), (b, a)):
        if x.kind == "quantity" and y.kind == "difference" and x.name == y.name:
            return x  # a value plus a change of it
    return unknown(f"{a.describe()} + {b.describe()}")


def _sub(a: QType, b: QType) -> QType:
    if a.kind == "number" and b.kind == "number":
        return NUMBER
    if _is_literal(a, 1.0) and b.kind == "quantity":
        one_minus = {"beta": q("residual_energy"), "residual_energy": q("beta"), "fraction": q("fraction"),
                     "one_bit_cosine": QType("difference", "one_bit_cosine")}
        if b.name in one_minus:
            return one_minus[b.name]
        return unknown(f"1 − {b.describe()}")
    if _is_literal(a, 1.0) and b.kind == "ratio":
        return QType("reduction", b.name)
    if a.kind == "ratio" and _is_literal(b, 1.0):
        return QType("relative_change", a.name)
    if a.kind == b.kind == "quantity" and a.name == b.name:
        return QType("difference", a.name)
    if a.kind == b.kind == "ratio" and a.name == b.name:
        return QType("difference", "ratio")  # e.g. an excess gain − null: not itself a ratio
    if a.kind == b.kind == "difference" and a.name == b.name:
        return a
    if a.kind == "quantity" and b.kind == "difference" and a.name == b.name:
        return a
    if _dimensionless(a) and _dimensionless(b):
        return QType("ratio")
    return unknown(f"{a.describe()} − {b.describe()}")


def _scaled(x: QType, factor: QType) -> QType:
    """x times or over a dimensionless factor."""
    if x.kind == "quantity":
        return x if x.name in EXTENSIVE else unknown(f"a multiple of {x.describe()} is not a {x.name}")
    if x.kind == "difference":
        return x
    return unknown(f"{x.describe()} scaled by {factor.describe()}")


def _mul(a: QType, b: QType) -> QType:
    if a.kind == "number" and b.kind == "number":
        return NUMBER
    if a.kind == b.kind == "quantity" and a.name == b.name == "one_bit_cosine":
        return q("beta")  # c·c: a β derived from cosines is a square
    if _dimensionless(a) and _dimensionless(b):
        return QType("ratio")
    if _dimensionless(a):
        return _scaled(b, a)
    if _dimensionless(b):
        return _scaled(a, b)
    return unknown(f"{a.describe()} × {b.describe()}")


def _div(a: QType, b: QType) -> QType:
    if a.kind == "number" and b.kind == "number":
        return NUMBER
    if a.kind == b.kind == "quantity" and a.name == b.name:
        return QType("ratio", a.name)
    if a.kind == b.kind == "difference" and a.name == b.name:
        return QType("ratio", f"{a.name}_difference")
    if a.kind == "difference" and b.kind == "quantity" and a.name == b.name:
        return QType("relative_change", a.name)
    if _dimensionless(a) and _dimensionless(b):
        return QType("ratio")
    if _dimensionless(b):
        return _scaled(a, b)
    return unknown(f"{a.describe()} / {b.describe()}")


def _pow(a: QType, b: QType) -> QType:
    if a.kind == "number" and b.kind == "number":
        return NUMBER
    if b.kind == "number":
        if a.kind == "quantity" and a.name == "one_bit_cosine" and _is_literal(b, 2.0):
            return q("beta")  # c²
        if _dimensionless(a):
            return QType("ratio", a.name if a.kind == "ratio" else None)
        return unknown(f"{a.describe()} to the power {b.value}")
    if _is_literal(a, 2.0) and b.kind == "quantity" and b.name == "bits_per_byte":
        return q("ppl")  # 2^(bits/byte): the per-byte perplexity
    return unknown(f"{a.describe()} to the power of {b.describe()}")


def _call(fn: str, args: list[QType]) -> QType:
    for t in args:
        if t.kind == "unknown":
            return t
    if all(t.kind == "number" for t in args):
        return NUMBER
    if fn in ("min", "max"):
        kinds = {(t.kind, t.name) for t in args if t.kind != "number"}
        if len(kinds) == 1:
            k, n = next(iter(kinds))
            return QType(k, n)
        return unknown(f"{fn} of values of different quantities")
    (x,) = args
    if fn == "abs":
        return x
    if fn == "sqrt":
        if x.kind == "quantity" and x.name == "beta":
            return q("one_bit_cosine")  # √β
        if _dimensionless(x):
            return QType("ratio")
        return unknown(f"sqrt of {x.describe()}")
    if fn == "exp" and x.kind == "quantity" and x.name == "nll":
        return q("ppl")
    if fn == "log" and x.kind == "quantity" and x.name == "ppl":
        return q("nll")
    if fn in ("exp", "log") and _dimensionless(x):
        return QType("ratio")
    return unknown(f"{fn} of {x.describe()}")


def compatible(derived: QType, stated: str, ratio_of: str | None) -> tuple[str, str] | None:
    """None when ``derived`` can be the ``stated`` quantity; else (severity, message)."""
    if derived.kind == "number":
        return None  # a constant: the implication checks say what it may be
    if derived.kind == "unknown":
        return "warning", f"the formula's quantity cannot be derived ({derived.why}), so it cannot be checked as {stated}"
    if derived.kind == "quantity":
        if derived.name == stated:
            return None
        hint = ""
        if stated == "residual_energy" and derived.name != "residual_energy":
            hint = "; a residual energy from a one-bit cosine is 1 − c² (one_bit_scale_optimal)"
        if stated == "beta" and derived.name == "one_bit_cosine":
            hint = "; a β from cosines is their square"
        return "error", f"the formula computes {derived.describe()}, but the claim states {stated}{hint}"
    if derived.kind == "difference":
        allowed = DIFFERENCE_OF.get(derived.name)
        if stated == allowed:
            return None
        hint = ""
        if derived.name == "one_bit_cosine" and stated == "residual_energy":
            hint = "; a residual energy from a one-bit cosine is 1 − c², not 1 − c (one_bit_scale_optimal)"
        if allowed is None:
            return "warning", (f"the formula computes {derived.describe()}, for which the vocabulary has no quantity;"
                               f" it cannot be checked as {stated}")
        return "error", f"the formula computes {derived.describe()}, not a {stated}{hint}"
    if derived.kind == "ratio":
        if stated == "ratio":
            if ratio_of and derived.name and ratio_of != derived.name:
                return "error", (f"the formula is a ratio of {derived.name} values, not a ratio of {ratio_of} values"
                                 + ("; a perplexity ratio is 2^(difference of bits/byte), not their ratio"
                                    if {ratio_of, derived.name} == {"ppl", "bits_per_byte"} else ""))
            if ratio_of and not derived.name:
                return "warning", f"the formula's ratio mixes quantities, so it cannot be checked as a ratio of {ratio_of}"
            return None
        if stated == "fraction" and derived.name in FRACTION_OF:
            return None
        return "error", f"the formula computes {derived.describe()}, which is dimensionless, not a {stated}"
    if derived.kind == "relative_change":
        if stated == "relative_change":
            return None
        return "error", f"the formula computes {derived.describe()}, not a {stated}"
    if derived.kind == "reduction":
        if stated == "fraction":
            return None
        return "error", f"the formula computes {derived.describe()}, not a {stated}"
    return "warning", f"no rule relates {derived.describe()} to {stated}"  # pragma: no cover
