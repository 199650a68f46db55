"""The two ways ``NameIndex`` enumerates a stem's candidates (from the names sharing the suffix,
or from the search path) always choose the same name: which one runs depends only on which side
is shorter, never on the answer."""

from __future__ import annotations

from hypothesis import given, strategies as st

from bridge.lean.status import NameIndex

PART = st.sampled_from(["A", "B", "C", "le", "mul", "X.Y"])
NAME = st.lists(PART, min_size=1, max_size=4).map(".".join)


CASES = dict(names=st.sets(NAME, max_size=30), stem=NAME,
             path=st.lists(st.lists(PART, max_size=3).map(".".join), unique=True, max_size=8),
             hidden_picks=st.sets(st.integers(0, 29), max_size=5),
             nesting=st.sets(st.lists(PART, max_size=2).map(".".join), max_size=4))


def _case(names, stem, path, hidden_picks, nesting):
    """Both enumerations' arguments: (stem, candidates, ranks, hidden, nesting) and the known names."""
    names = sorted(names)
    cands = [n for n in names if n == stem or n.endswith("." + stem)]
    ranks = {space: rank for rank, space in enumerate(path)}
    hidden = tuple(names[k] for k in sorted(hidden_picks) if k < len(names))
    return (stem, cands, ranks, hidden, frozenset(nesting)), frozenset(names)


@given(**CASES)
def test_candidate_and_path_enumeration_agree(names, stem, path, hidden_picks, nesting):
    (stem, cands, ranks, hidden, nest), known = _case(names, stem, path, hidden_picks, nesting)
    assert NameIndex.best_by_candidates(stem, cands, ranks, hidden, nest) == \
        NameIndex.best_by_path(stem, known, ranks, hidden, nest)


@given(**CASES)
def test_ranked_enumerations_agree_and_start_with_the_best(names, stem, path, hidden_picks, nesting):
    """The full rankings (tried when the best name is not visible) agree too, best first."""
    (stem, cands, ranks, hidden, nest), known = _case(names, stem, path, hidden_picks, nesting)
    a = NameIndex.ranked_by_candidates(stem, cands, ranks, hidden, nest)
    assert a == NameIndex.ranked_by_path(stem, known, ranks, hidden, nest)
    assert (a[0] if a else None) == NameIndex.best_by_candidates(stem, cands, ranks, hidden, nest)
