"""Plotly figures built from the evidence, serialised to JSON for the pages to hand to plotly.js.

The browser draws them with the plotly.min.js that ships in the pinned ``plotly`` wheel (copied into
the build, never committed); nothing here draws by hand. Every figure gets a data table or a text
alternative on its page (the page templates render those from the same rows).
"""

from __future__ import annotations

import itertools
import json
import math
from collections import defaultdict

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from . import gengauss
from .formats import format_number

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
BLUE, ORANGE, GREEN, VERMILLION, SKY, PURPLE, YELLOW, GREY = (
    "#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#777777")
SERIES_COLOURS = (BLUE, ORANGE, GREEN, PURPLE, SKY, YELLOW)

FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13, "color": "#222"}
CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["toImage", "sendDataToCloud"]}


def _layout(fig: go.Figure, height: int) -> None:
    fig.update_layout(
        template="none", font=FONT, height=height, autosize=True, paper_bgcolor="white", plot_bgcolor="white",
        margin={"l": 64, "r": 16, "t": 40, "b": 48}, hovermode="closest",
        legend={"orientation": "h", "yanchor": "top", "y": -0.14, "xanchor": "left", "x": 0},
    )
    fig.update_xaxes(showline=True, linecolor="#999", gridcolor="#eee", zeroline=False, ticks="outside")
    fig.update_yaxes(showline=True, linecolor="#999", gridcolor="#eee", zeroline=False, ticks="outside")


def hline(y: float, axis: str = "", *, dash: str, color: str, width: float = 1, label: str = "",
          position: str = "top left", font_color: str | None = None) -> tuple[dict, dict | None]:
    """A horizontal line across the plot of y-axis ``y{axis}`` (and its label): a plain layout shape,
    which plotly draws exactly as ``add_hline`` would, without re-validating the figure each time."""
    shape = {"type": "line", "xref": f"x{axis} domain", "yref": f"y{axis}", "x0": 0, "x1": 1, "y0": y, "y1": y,
             "line": {"dash": dash, "color": color, "width": width}}
    if not label:
        return shape, None
    vert, horiz = position.split()
    note = {"text": label, "xref": f"x{axis} domain", "yref": f"y{axis}", "x": {"left": 0, "right": 1}[horiz], "y": y,
            "xanchor": horiz, "yanchor": "bottom" if vert == "top" else "top", "showarrow": False,
            "font": {"size": 11, "color": font_color or color}}
    return shape, note


def add_lines(fig: go.Figure, lines: list[tuple[dict, dict | None]]) -> None:
    fig.update_layout(shapes=[*fig.layout.shapes, *(s for s, _ in lines)],
                      annotations=[*fig.layout.annotations, *(a for _, a in lines if a is not None)])


def script_json(doc) -> str:
    """JSON for a ``<script type="application/json">`` block: ``<`` is escaped (as ``\\u003c``, the
    same string once parsed), so no text from the data can close the script element."""
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def to_json(fig: go.Figure) -> str:
    """Deterministic JSON {data, layout, config} (plotly's own serialiser, stdlib engine)."""
    doc = json.loads(pio.to_json(fig, validate=True, pretty=False, engine="json"))
    doc["config"] = CONFIG
    return script_json(doc)


def variant_label(variant: str) -> str:
    """``learned_centered`` → ``learned, centered``."""
    return variant.replace("_", ", ", 1).replace("_", " ")


# --- convergence ----------------------------------------------------------------------------------

def convergence_figure(layer: int, trace_rows: list[dict], crossings: list[dict], srht: dict | None,
                       steps: int | None) -> go.Figure:
    """Cosine (top) and β (bottom) against step for one layer: one line per variant, the thresholds
    as dotted lines on the cosine panel (they are cosines), first crossings as markers, the SRHT
    value measured on this layer as a dashed line and the isotropic limit as a grey dotted line."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=(f"layer {layer}: one-bit cosine", f"layer {layer}: β (moment ratio)"))
    by_variant: dict[str, list[dict]] = defaultdict(list)
    for row in trace_rows:
        by_variant[row["variant"]].append(row)
    colours = {v: SERIES_COLOURS[i % len(SERIES_COLOURS)] for i, v in enumerate(sorted(by_variant))}
    for variant, rows in sorted(by_variant.items()):
        rows = sorted(rows, key=lambda r: r["step"])
        x = [r["step"] for r in rows]
        label = variant_label(variant)
        common = {"mode": "lines", "line": {"color": colours[variant], "width": 2}, "legendgroup": variant}
        fig.add_trace(go.Scatter(x=x, y=[r["one_bit_cosine"] for r in rows], name=label,
                                 hovertemplate=f"{label}<br>step %{{x}}<br>cosine %{{y:.4f}}<extra></extra>",
                                 **common), row=1, col=1)
        fig.add_trace(go.Scatter(x=x, y=[r["beta"] for r in rows], name=label, showlegend=False,
                                 hovertemplate=f"{label}<br>step %{{x}}<br>β %{{y:.4f}}<extra></extra>",
                                 **common), row=2, col=1)
    lines = [hline(t, dash="dot", color=GREY, label=f"cos {format_number(t, 'one_bit_cosine')}")
             for t in sorted({c["threshold"] for c in crossings})]
    hits = [c for c in crossings if c["crossed"] == "yes"]
    if hits:
        fig.add_trace(go.Scatter(
            x=[c["step"] for c in hits], y=[c["threshold"] for c in hits], mode="markers",
            name="first crossing", marker={"color": VERMILLION, "size": 9, "symbol": "circle",
                                           "line": {"color": "white", "width": 1}},
            text=[f"{variant_label(c['variant'])}: cosine {format_number(c['threshold'], 'one_bit_cosine')} "
                  f"first reached at step {c['step']}" for c in hits],
            hovertemplate="%{text}<extra></extra>"), row=1, col=1)
    if srht is not None:
        for axis, key in (("", "cos_srht"), ("2", "beta_srht")):
            lines.append(hline(srht[key], axis, dash="dash", color=SKY, width=2, position="bottom right",
                               label=f"SRHT {format_number(srht[key], 'beta')}", font_color="#1f6f99"))
    floor_beta = 2 / math.pi
    lines.append(hline(math.sqrt(floor_beta), dash="dot", color="#bbb"))
    lines.append(hline(floor_beta, "2", dash="dot", color="#bbb"))
    add_lines(fig, lines)
    _layout(fig, 560)
    fig.update_yaxes(title_text="one-bit cosine", row=1, col=1)
    fig.update_yaxes(title_text="β (moment ratio)", row=2, col=1)
    fig.update_xaxes(title_text="optimiser step", row=2, col=1)
    if steps:
        fig.update_xaxes(range=[0, steps])
    return fig


# --- memory ---------------------------------------------------------------------------------------

def memory_figure(parts: list[dict], cache_labels: dict[str, str]) -> go.Figure:
    """Stacked bars: stored bytes per cache, one segment per stored tensor group."""
    caches = list(dict.fromkeys(r["cache"] for r in parts))
    groups = list(dict.fromkeys(r["part"] for r in parts))
    fig = go.Figure()
    for i, part in enumerate(groups):
        values = {r["cache"]: r["bytes"] for r in parts if r["part"] == part}
        if not any(values.values()):
            continue
        fig.add_trace(go.Bar(
            y=[cache_labels.get(c, c) for c in caches], x=[values.get(c, 0) / 2**20 for c in caches],
            name=part.replace("_", " "), orientation="h",
            marker={"color": SERIES_COLOURS[i % len(SERIES_COLOURS)]},
            customdata=[format_number(values.get(c, 0), "bytes") for c in caches],
            hovertemplate=f"{part.replace('_', ' ')}: %{{customdata}} bytes<extra></extra>"))
    _layout(fig, 300)
    fig.update_layout(barmode="stack", legend={"y": -0.3})
    fig.update_xaxes(title_text="stored bytes (MiB = 2²⁰ bytes)")
    fig.update_yaxes(autorange="reversed", automargin=True)
    return fig


# --- any artifact table (co-activation) -----------------------------------------------------------

#: Column quantities that can serve as a chart's x axis, in order of preference.
X_QUANTITIES = ("index", "dimension", "count", "steps")


#: At most this many lines in one table chart; a table that would need more is shown as a table only.
MAX_SERIES = 12


def _series_keys(rows: list[dict], x: str, labels: list[str], candidates: list[str]) -> list[str] | None:
    """The fewest further key columns (in column order) that, with x and the labels, tell rows apart;
    None when even all candidates do not."""
    for n in range(len(candidates) + 1):
        for keys in itertools.combinations(candidates, n):
            seen = {tuple(r[k] for k in (x, *labels, *keys)) for r in rows}
            if len(seen) == len(rows):
                return list(keys)
    return None


def table_figure(tab: dict) -> go.Figure | None:
    """A line chart of an artifact table, chosen from the table's own column quantities.

    x is its first index-like column (index, dimension, count, steps). Rows are split into lines by
    the label columns and, when x repeats, by the fewest further index-like columns that tell the
    rows apart (a (layer, budget) grid becomes one line per layer). The y columns are those of the
    quantity most of the remaining numeric columns share (one axis, one unit: a fraction is never
    drawn on the axis of a count). None when there is no x, nothing to plot, or more than
    ``MAX_SERIES`` lines."""
    cols = tab["columns"]
    rows = tab["rows"]
    xs = [k for q in X_QUANTITIES for k, c in cols.items() if c["quantity"] == q]
    if not xs or len(rows) < 2:
        return None
    x = xs[0]
    labels = [k for k, c in cols.items() if c["quantity"] == "label"]
    keys = _series_keys(rows, x, labels, [k for k in xs[1:] if k != x])
    if keys is None:
        return None
    numeric = [k for k, c in cols.items() if c["quantity"] != "label" and k != x and k not in keys]
    if not numeric:
        return None
    by_quantity: dict[str, list[str]] = defaultdict(list)
    for k in numeric:
        by_quantity[cols[k]["quantity"]].append(k)
    quantity = max(by_quantity, key=lambda q: (len(by_quantity[q]), -numeric.index(by_quantity[q][0])))
    ys = by_quantity[quantity]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[k] for k in (*labels, *keys))].append(row)
    if len(ys) * len(groups) > MAX_SERIES:
        return None
    fig = go.Figure()
    i = 0
    for y in ys:
        for key, grp in sorted(groups.items()):
            grp = sorted(grp, key=lambda r: r[x])
            parts = [str(v) for v in key[: len(labels)]] + [
                f"{cols[k].get('description') or k} {v}" for k, v in zip(keys, key[len(labels):])]
            name = (cols[y].get("description") or y) + (f" ({', '.join(parts)})" if parts else "")
            fig.add_trace(go.Scatter(x=[r[x] for r in grp], y=[r[y] for r in grp], mode="lines+markers", name=name,
                                     line={"color": SERIES_COLOURS[i % len(SERIES_COLOURS)],
                                           "dash": ("solid", "dash", "dot")[i // len(SERIES_COLOURS) % 3]}))
            i += 1
    _layout(fig, 360)
    fig.update_xaxes(title_text=cols[x].get("description") or x)
    fig.update_yaxes(title_text=quantity.replace("_", " "))
    return fig


# --- explore --------------------------------------------------------------------------------------

def density_grid(points: int, half_width: float) -> list[float]:
    return [-half_width + 2 * half_width * i / (points - 1) for i in range(points)]


def explore_figures(start_p: float, xs: list[float], marks: list[dict]) -> tuple[go.Figure, go.Figure]:
    """The density at the slider's starting p (the page's script restyles trace 0 as p moves), and
    β(p) over the slider's range with the measured models' β and the slider's p (the last trace)."""
    dens = go.Figure()
    dens.add_trace(go.Scatter(x=xs, y=[gengauss.density(start_p, x) for x in xs], mode="lines", name="density",
                              line={"color": BLUE, "width": 3}, fill="tozeroy", fillcolor="rgba(0,114,178,0.12)",
                              hovertemplate="x %{x:.2f}<br>f(x) %{y:.3f}<extra></extra>"))
    for p, name, colour in ((gengauss.LAPLACE_P, "Laplace (p = 1)", ORANGE), (gengauss.GAUSSIAN_P, "Gaussian (p = 2)", GREEN)):
        dens.add_trace(go.Scatter(x=xs, y=[gengauss.density(p, x) for x in xs], mode="lines", name=name,
                                  line={"color": colour, "width": 1, "dash": "dot"}, hoverinfo="skip"))
    _layout(dens, 340)
    dens.update_layout(legend={"y": -0.28}, margin={"b": 96})
    dens.update_xaxes(title_text="x (unit variance)", range=[xs[0], xs[-1]])
    dens.update_yaxes(title_text="density f(x)", rangemode="tozero")

    grid = gengauss.SLIDER.table()
    curve = go.Figure()
    curve.add_trace(go.Scatter(x=[g["p"] for g in grid], y=[g["beta"] for g in grid], mode="lines", name="β(p)",
                               line={"color": BLUE, "width": 2},
                               hovertemplate="p %{x:.3f}<br>β %{y:.4f}<extra></extra>"))
    lo, hi = grid[0]["p"], grid[-1]["p"]
    lines = []
    for i, m in enumerate(marks):
        colour = SERIES_COLOURS[(i + 1) % len(SERIES_COLOURS)]
        if m["p"] is not None and lo <= m["p"] <= hi:
            curve.add_trace(go.Scatter(x=[m["p"]], y=[m["beta"]], mode="markers", name=m["label"],
                                       marker={"color": colour, "size": 9, "symbol": "diamond",
                                               "line": {"color": "#333", "width": 1}},
                                       hovertemplate=f"{m['label']}<br>β %{{y:.3f}} at p %{{x:.2f}}<extra></extra>"))
        else:
            # No shape on the slider has this β (above the uniform limit, or tails heavier than
            # Laplace): a dashed level, named.
            lines.append(hline(m["beta"], dash="dash", color=colour, label=m["label"], font_color="#333"))
    lines.append(hline(gengauss.UNIFORM_BETA, dash="dot", color=GREY, label="uniform limit", position="bottom right"))
    add_lines(curve, lines)
    # The slider's marker last, so it is drawn on top (the page restyles the last trace).
    curve.add_trace(go.Scatter(x=[start_p], y=[gengauss.beta_of_p(start_p)], mode="markers", name="slider p",
                               marker={"color": VERMILLION, "size": 13, "line": {"color": "white", "width": 2}},
                               hovertemplate="p %{x:.3f}<br>β %{y:.4f}<extra></extra>"))
    _layout(curve, 380)
    ticks = [2.0 ** k for k in range(math.ceil(gengauss.SLIDER.log2_min), math.floor(gengauss.SLIDER.log2_max) + 1)]
    curve.update_xaxes(title_text="shape p (log scale)", type="log", tickvals=ticks,
                       ticktext=[f"{t:g}" for t in ticks], range=[math.log10(lo), math.log10(hi)])
    curve.update_yaxes(title_text="β (moment ratio)")
    curve.update_layout(showlegend=False)
    return dens, curve


# --- KV caches (kvcache stage) --------------------------------------------------------------------

FAMILY_COLOURS = {"ours": BLUE, "peer": ORANGE, "baseline": GREY}


def kv_tradeoff_figure(rows: list[dict]) -> go.Figure:
    """Held-out bits/byte against K bits per element, one marker per cache, coloured by family: the
    trade-off the comparison is about (down and left is better); fp16's bits/byte as a line."""
    fig = go.Figure()
    for family in ("ours", "peer", "baseline"):
        grp = [r for r in rows if r["family"] == family]
        if not grp:
            continue
        fig.add_trace(go.Scatter(
            x=[r["k_bits"] for r in grp], y=[r["bpb_all"] for r in grp], mode="markers+text", name=family,
            text=[r["method"] for r in grp], textposition="top center", textfont={"size": 10},
            marker={"color": FAMILY_COLOURS[family], "size": 9},
            customdata=[[format_number(r["k_bits"], "bits_per_element"), format_number(r["v_bits"], "bits_per_element"),
                         format_number(r["bpb_all"], "bits_per_byte")] for r in grp],
            hovertemplate="%{text}: K %{customdata[0]} bits, V %{customdata[1]} bits, %{customdata[2]} bits/byte"
                          "<extra></extra>"))
    fp16 = next((r for r in rows if r["method"] == "fp16"), None)
    _layout(fig, 420)
    if fp16 is not None:
        add_lines(fig, [hline(fp16["bpb_all"], dash="dot", color=GREY, label="fp16")])
    fig.update_xaxes(title_text="K bits per element (stored tensors, metadata included)", type="log")
    fig.update_yaxes(title_text="held-out bits/byte, decoded token by token")
    return fig
