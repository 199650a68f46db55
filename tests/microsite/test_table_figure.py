"""The generic table chart: x, series keys and the one y quantity are chosen from the columns."""

from __future__ import annotations

from bridge.site.figures import MAX_SERIES, table_figure


def _tab(rows, cols):
    return {"description": "t", "columns": {k: {"quantity": q, "description": k} for k, q in cols.items()}, "rows": rows}


def test_a_grid_becomes_one_line_per_key_and_only_the_dominant_quantity_is_drawn():
    rows = [{"layer": layer, "budget": b, "lfu": 0.1 * b, "coact": 0.2 * b, "won": 1}
            for layer in range(3) for b in (12, 16)]
    fig = table_figure(_tab(rows, {"layer": "index", "budget": "count", "lfu": "fraction", "coact": "fraction",
                                   "won": "count"}))
    names = [t.name for t in fig.data]
    assert len(names) == 4 and all("budget" in n for n in names)  # 2 fractions × 2 budgets; the count is not drawn
    assert all(list(t.x) == [0, 1, 2] for t in fig.data)
    assert fig.layout.yaxis.title.text == "fraction"


def test_too_many_lines_or_no_x_gives_no_chart():
    rows = [{"layer": layer, "kind": f"k{j}", "a": 1.0, "b": 2.0} for layer in range(2) for j in range(MAX_SERIES)]
    assert table_figure(_tab(rows, {"layer": "index", "kind": "label", "a": "ratio", "b": "ratio"})) is None
    assert table_figure(_tab([{"a": 1.0}, {"a": 2.0}], {"a": "ratio"})) is None
