"""Tables as the templates render them: header cells with their quantity and precision, body cells
that are either a :class:`~bridge.site.formats.Shown` number or a text label."""

from __future__ import annotations

from dataclasses import dataclass, field

from .formats import Shown, describe_precision, shown


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    quantity: str

    @property
    def numeric(self) -> bool:
        return self.quantity != "label"

    @property
    def precision(self) -> str:
        return describe_precision(self.quantity) if self.numeric else ""


@dataclass
class Table:
    """``caption`` is the table's text; ``precision_note`` states each quantity's precision once."""

    id: str
    caption: str
    columns: list[Column]
    rows: list[list[Shown | str]]
    row_header: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def precision_note(self) -> str:
        seen: dict[str, list[str]] = {}
        for c in self.columns:
            if c.numeric:
                seen.setdefault(c.precision, []).append(c.header)
        return "; ".join(f"{', '.join(heads)}: {prec}" for prec, heads in seen.items())


def cell(value, quantity: str) -> Shown | str:
    if quantity == "label" or isinstance(value, str):
        return str(value)
    return shown(value, quantity)


def artifact_table(table_id: str, tab: dict, order: list[str] | None = None, caption: str | None = None) -> Table:
    """An artifact's ``tables`` entry as a :class:`Table`: columns in ``order`` (then the rest in the
    artifact's order, labels first), headers from the columns' descriptions."""
    cols = tab["columns"]
    keys = [k for k in (order or []) if k in cols]
    rest = [k for k in cols if k not in keys]
    keys += [k for k in rest if cols[k]["quantity"] == "label"] + [k for k in rest if cols[k]["quantity"] != "label"]
    columns = [Column(k, cols[k].get("description") or k, cols[k]["quantity"]) for k in keys]
    rows = [[cell(r[c.key], c.quantity) for c in columns] for r in tab["rows"]]
    return Table(table_id, caption or tab.get("description", table_id), columns, rows)


def measures_table(table_id: str, measures: dict, caption: str) -> Table:
    """An artifact's ``measures`` as a two-column table (what, value)."""
    columns = [Column("what", "measure", "label"), Column("value", "value", "label")]
    rows = []
    for key, m in measures.items():
        label = m.get("description") or key
        rows.append([label, cell(m["value"], m["quantity"])])
    return Table(table_id, caption, columns, rows)
