"""The claim formula language: arithmetic over named bindings, evaluated in interval arithmetic.

    formula := expr
    expr    := expr ("+" | "-") term | term
    term    := term ("*" | "/") factor | factor
    factor  := ("-" | "+") factor | power
    power   := atom ("^" factor)?
    atom    := NUMBER | NAME | NAME "(" args ")" | "(" expr ")"

Names are the claim's bindings (artifact fields, other claims) or the constants ``pi`` and ``e``;
functions are ``sqrt``, ``abs``, ``exp``, ``log``, ``min`` and ``max``. Parsed with lark and
evaluated by walking the tree — never with Python ``eval``, so a claim file cannot run code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

from lark import Lark, Token, Tree
from lark.exceptions import LarkError

from .interval import Interval

GRAMMAR = r"""
?start: expr
?expr: expr "+" term   -> add
     | expr "-" term   -> sub
     | term
?term: term "*" factor -> mul
     | term "/" factor -> div
     | factor
?factor: "-" factor    -> neg
       | "+" factor
       | power
?power: atom "^" factor -> pow
      | atom
?atom: NUMBER          -> number
     | NAME "(" expr ("," expr)* ")" -> call
     | NAME            -> name
     | "(" expr ")"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
NUMBER: /\d+(\.\d+)?([eE][+-]?\d+)?/
%ignore /\s+/
"""

CONSTANTS = {"pi": Interval.point(math.pi), "e": Interval.point(math.e)}
FUNCTIONS = ("sqrt", "abs", "exp", "log", "min", "max")


class FormulaError(ValueError):
    """A formula that does not parse, names an unknown binding or function, or is undefined."""


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr")


@lru_cache(maxsize=4096)
def parse_formula(text: str) -> Tree:
    try:
        return _parser().parse(text)
    except LarkError as exc:
        raise FormulaError(f"cannot parse formula {text!r}: {str(exc).splitlines()[0]}") from None


def formula_names(text: str) -> set[str]:
    """Names a formula refers to (excluding constants and function names)."""
    tree = parse_formula(text)
    names = set()
    for node in tree.iter_subtrees():
        if node.data == "name":
            names.add(str(node.children[0]))
    if isinstance(tree, Token):  # pragma: no cover - a bare atom parses to a tree
        return names
    return names - set(CONSTANTS)


def _sqrt(x: Interval) -> Interval:
    if x.lo < 0:
        raise FormulaError(f"sqrt of an interval below 0: {x}")
    return x.monotone(math.sqrt)


def _log(x: Interval) -> Interval:
    if x.lo <= 0:
        raise FormulaError(f"log of an interval not above 0: {x}")
    return x.monotone(math.log)


def _abs(x: Interval) -> Interval:
    if x.lo >= 0:
        return x
    if x.hi <= 0:
        return -x
    return Interval(0.0, max(-x.lo, x.hi))


def evaluate(text: str, bindings: Mapping[str, Interval]) -> Interval:
    """Evaluate ``text`` with ``bindings`` (name → interval); raises ``FormulaError``."""
    return _eval(parse_formula(text), bindings)


def _eval(node, env: Mapping[str, Interval]) -> Interval:
    kind = node.data
    kids = node.children
    try:
        if kind == "number":
            return Interval.point(float(kids[0]))
        if kind == "name":
            name = str(kids[0])
            if name in env:
                return env[name]
            if name in CONSTANTS:
                return CONSTANTS[name]
            raise FormulaError(f"unknown name {name!r} (not a binding or constant)")
        if kind == "neg":
            return -_eval(kids[0], env)
        if kind == "call":
            fn = str(kids[0])
            args = [_eval(k, env) for k in kids[1:]]
            if fn in ("min", "max"):
                if not args:
                    raise FormulaError(f"{fn}() needs arguments")
                pick = min if fn == "min" else max
                return Interval(pick(a.lo for a in args), pick(a.hi for a in args))
            if len(args) != 1:
                raise FormulaError(f"{fn}() takes one argument")
            (x,) = args
            if fn == "sqrt":
                return _sqrt(x)
            if fn == "abs":
                return _abs(x)
            if fn == "exp":
                return x.monotone(math.exp)
            if fn == "log":
                return _log(x)
            raise FormulaError(f"unknown function {fn!r}; known: {', '.join(FUNCTIONS)}")
        a, b = (_eval(k, env) for k in kids)
        if kind == "add":
            return a + b
        if kind == "sub":
            return a - b
        if kind == "mul":
            return a * b
        if kind == "div":
            return a / b
        if kind == "pow":
            return a ** b
    except ZeroDivisionError as exc:
        raise FormulaError(str(exc)) from None
    except OverflowError:
        raise FormulaError("overflow") from None
    except ValueError as exc:
        if isinstance(exc, FormulaError):
            raise
        raise FormulaError(str(exc)) from None
    raise FormulaError(f"unsupported syntax {kind!r}")  # pragma: no cover
