"""The β widget's static snapshot: an SVG drawn by matplotlib at build time.

Shown instead of the interactive widget below the narrow-screen breakpoint (and without
JavaScript). Deterministic: no date in the metadata, a fixed id salt, text drawn as paths.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("svg", force=False)
from matplotlib.figure import Figure  # noqa: E402  (the backend is chosen first)

from . import gengauss  # noqa: E402
from .figures import BLUE, GREY, ORANGE, GREEN, PURPLE, VERMILLION  # noqa: E402

#: The shapes drawn in the snapshot: Laplace, Gaussian, a light-tailed p and the slider's largest p.
SNAPSHOT_SHAPES = (gengauss.LAPLACE_P, gengauss.GAUSSIAN_P, 4.0, None)


def snapshot_svg(xs: list[float], marks: list[dict]) -> str:
    """Densities at the landmark shapes (left) and β(p) with the measured models' β (right)."""
    grid = gengauss.SLIDER.table()
    shapes = [p if p is not None else grid[-1]["p"] for p in SNAPSHOT_SHAPES]
    with matplotlib.rc_context({"svg.hashsalt": "moegauge-site", "svg.fonttype": "path",
                                "font.size": 9, "axes.spines.top": False, "axes.spines.right": False}):
        fig = Figure(figsize=(4.0, 5.6), dpi=100, layout="constrained")
        ax_d, ax_b = fig.subplots(2, 1)
        for p, colour in zip(shapes, (ORANGE, GREEN, BLUE, PURPLE)):
            beta = gengauss.beta_of_p(p)
            ax_d.plot(xs, [gengauss.density(p, x) for x in xs], color=colour, lw=1.6,
                      label=f"p = {p:g}: β = {beta:.4f}")
        ax_d.set_xlabel("x (unit variance)")
        ax_d.set_ylabel("density f(x)")
        ax_d.set_ylim(bottom=0)
        ax_d.legend(frameon=False, fontsize=7.5)
        ax_d.set_title("generalised Gaussian densities", fontsize=9)

        ax_b.plot([g["p"] for g in grid], [g["beta"] for g in grid], color=BLUE, lw=1.8, label="β(p)")
        ax_b.axhline(gengauss.UNIFORM_BETA, color=GREY, lw=0.8, ls=":")
        lo, hi = grid[0]["p"], grid[-1]["p"]
        for m in marks:
            if m["p"] is not None and lo <= m["p"] <= hi:
                ax_b.plot([m["p"]], [m["beta"]], marker="D", ms=4, color=VERMILLION, ls="none")
            else:
                ax_b.axhline(m["beta"], color=VERMILLION, lw=0.7, ls="--")
        ax_b.set_xscale("log", base=2)
        ax_b.set_xlabel("shape p (log scale)")
        ax_b.set_ylabel("β (moment ratio)")
        ax_b.set_title("β(p); diamonds and dashes: measured β", fontsize=9)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return buf.getvalue()
