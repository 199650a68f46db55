"""The reader is linear in its input: doubling a pathological input at most ~2.5× the time.

A quadratic path shows as 4× when the input doubles. Each case is timed at size n and 2n within
this one test in CPU time of this process (the minimum of a few interleaved runs, so other
processes' load cancels out); no absolute time is asserted. The cases are the traps measured in issue 14 (5,000 ``let``s in one statement,
a 1.6 MB line of ``#eval 1``) and the other shapes whose cost could grow with the square of
their size: deep nesting, long lines of binders, sorries in one bracket, unclosed brackets,
unknown commands, ``where`` helpers, match alternatives and absolute values.
"""

from __future__ import annotations

import time

import pytest

from bridge.lean.reader import read_bytes
from bridge.lean.status import compute_statuses
from bridge.lean.tree import gc_paused

CASES = {
    "lets_in_one_statement": (lambda n: "theorem t : " + "".join(f"let x{i} := {i}\n  " for i in range(n))
                              + "x0 = x0 := rfl\n", 1500),
    "long_line_of_eval": (lambda n: "#eval 1 " * n + "\ntheorem t : 1 = 1 := rfl\n", 10000),
    "deep_nesting_with_sorry": (lambda n: "theorem t : 1 = 1 := " + "(" * n + "sorry" + ")" * n + "\n", 40000),
    "sorries_in_one_bracket": (lambda n: "theorem t : 1 = 1 := (" + " sorry" * n + ")\n", 8000),
    "many_binders": (lambda n: "theorem t : 1 = 1 := (fun " + " ".join(f"x{i}" for i in range(n))
                     + " => rfl)\n", 8000),
    "unclosed_brackets": (lambda n: "".join(f"theorem t{i} : (1 = 1 := rfl\n" for i in range(n)), 800),
    "unknown_commands": (lambda n: "".join(f"notation3 \"x{i}\" => {i}\ntheorem t{i} : 1 = 1 := rfl\n"
                                           for i in range(n)), 800),
    "where_helpers": (lambda n: "def f : Nat := h0\nwhere\n" + "".join(f"  h{i} : Nat := {i}\n" for i in range(n)),
                      800),
    "alternatives_and_abs": (lambda n: "def f : Nat → Nat\n" + "".join(f"  | {i} => |{i}| + 1\n" for i in range(n)),
                             3000),
    "declarations_on_one_line": (lambda n: " ".join(f"def d{i} := d{max(i - 1, 0)}" for i in range(n)) + "\n",
                                 1500),
    "long_open": (lambda n: "open " + " ".join(f"N{i}" for i in range(n)) + "\ntheorem t : 1 = 1 := rfl\n", 8000),
}


def _cost(text: str) -> float:
    """CPU time of this process (not wall time: other processes' load does not count), with the
    cyclic garbage collector paused as ``read_tree`` runs the reader."""
    data = text.encode()
    with gc_paused():
        t0 = time.process_time()
        f = read_bytes(data, "p.lean")
        compute_statuses([f])
        return time.process_time() - t0


@pytest.mark.parametrize("case", sorted(CASES))
def test_doubling_a_pathological_input_at_most_two_and_a_half_times_the_time(case):
    make, n = CASES[case]
    small, large = make(n), make(2 * n)
    _cost(small)  # warm up (regex compilation, caches)
    t_small = t_large = float("inf")
    for _ in range(5):
        t_small = min(t_small, _cost(small))
        t_large = min(t_large, _cost(large))
    ratio = t_large / t_small
    # Linear work doubles (×2), a quadratic path quadruples (×4); timings of a tenth of a second on a
    # shared machine wobble by ±30%, so the line is drawn at ×3.2, well clear of both.
    assert ratio <= 3.2, f"{case}: {t_small:.4f} s at n={n}, {t_large:.4f} s at 2n: ×{ratio:.2f}"
