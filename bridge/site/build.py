"""Render the site: Jinja2 templates in ``site/templates`` + the inputs → static HTML in ``site/_build``.

The output is written to a temporary sibling directory and swapped in at the end, so a failed build
leaves the previous site intact. Nothing in the output depends on the clock or on the order files
are listed in: the same inputs build the same bytes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

import jinja2

from .. import __version__
from . import pages
from .inputs import Inputs, load_inputs

#: Below this width (CSS px) the β widget shows its static snapshot.
NARROW_BREAKPOINT_PX = 500
VIEWPORT = "width=device-width, initial-scale=1"
TOOL = "python -m bridge site build"
PLOTLY_JS = "plotly.min.js"
#: What a page holding a chart contains (see the ``figure`` macro in site/templates/macros.html).
FIGURE_MARKER = 'type="application/json" data-figure='



class SiteBuildError(Exception):
    """A problem with the templates or the installed plotting library (not with the data)."""


@dataclass
class BuildResult:
    out: Path
    pages: list[str]
    files: int
    bytes: int
    seconds: float


def plotly_js_source() -> Path:
    """plotly.min.js as shipped inside the installed (exactly pinned) plotly wheel."""
    path = Path(str(resources.files("plotly").joinpath("package_data", PLOTLY_JS)))
    if not path.is_file():
        raise SiteBuildError(f"{path}: plotly.min.js not found in the installed plotly package")
    return path


def plotly_js_version() -> str:
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


def environment(template_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )
    env.globals.update(data_href=pages.data_href, theorem_anchor=pages.theorem_anchor,
                       source_href=pages.source_href)
    return env


def _provenance(inputs: Inputs) -> dict:
    return {
        "tool": TOOL, "bridge_version": __version__, "commit": inputs.git_commit, "dirty": inputs.git_dirty,
        "digest": inputs.digest(), "plotly": metadata.version("plotly"), "plotly_js": plotly_js_version(),
        "matplotlib": metadata.version("matplotlib"),
        "files": [{"path": p, "sha256": h, "href": pages.data_href(p)} for p, h in sorted(inputs.files.items())],
    }


def render_site(inputs: Inputs, template_dir: Path, static_dir: Path, out: Path) -> list[str]:
    """Write every page, the assets and copies of the input files into ``out`` (an empty directory)."""
    env = environment(template_dir)
    common = {
        "pages": [{"slug": s, "title": t} for s, t in pages.PAGES], "prov": _provenance(inputs),
        "narrow_px": NARROW_BREAKPOINT_PX, "viewport": VIEWPORT, "plotly_js": PLOTLY_JS,
    }
    contexts = {
        "index": pages.index_page(inputs), "convergence": pages.convergence_page(inputs),
        "lean": pages.lean_page(inputs), "audit": pages.audit_page(inputs), "ladders": pages.ladders_page(inputs),
        "coactivation": {**pages.coactivation_page(inputs), "coactivation_dir": pages.COACTIVATION_DIR},
        "kvcache": pages.kvcache_page(inputs), "explore": pages.explore_page(inputs),
    }
    written = []
    for slug, title in pages.PAGES:
        template = env.get_template(f"{slug}.html")
        html = template.render(**common, **contexts[slug], slug=slug, title=title, root="", uses_plotly=True)
        if FIGURE_MARKER not in html:  # no chart on this page: do not load plotly.js
            html = template.render(**common, **contexts[slug], slug=slug, title=title, root="", uses_plotly=False)
        _write(out / f"{slug}.html", html)
        written.append(f"{slug}.html")
    for src in pages.lean_source_pages(inputs):
        depth = src["href"].count("/")
        html = env.get_template("lean_source.html").render(
            **common, src=src, slug="lean", title=src["file"], root="../" * depth, uses_plotly=False)
        _write(out / src["href"], html)
        written.append(src["href"])
    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    for name in sorted(os.listdir(static_dir)):
        shutil.copyfile(static_dir / name, assets / name)
    shutil.copyfile(plotly_js_source(), assets / PLOTLY_JS)
    for rel in sorted(inputs.files):
        dest = out / pages.data_href(rel)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(inputs.root / rel, dest)
    return written


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def build_site(root: Path, out: Path | None = None) -> BuildResult:
    """Load the inputs (bad input raises before anything is written), render into a temporary
    directory beside ``out``, then swap it in."""
    started = time.perf_counter()
    root = root.resolve()
    out = (out or root / "site" / "_build").resolve()
    template_dir, static_dir = root / "site" / "templates", root / "site" / "static"
    for d in (template_dir, static_dir):
        if not d.is_dir():
            raise SiteBuildError(f"{d}: missing (the site's templates and static assets live in site/)")
    inputs = load_inputs(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        try:
            written = render_site(inputs, template_dir, static_dir, tmp)
        except jinja2.TemplateError as exc:
            raise SiteBuildError(f"template error: {exc}") from exc
        os.chmod(tmp, 0o755)
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old.{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = [p for p in out.rglob("*") if p.is_file()]
    return BuildResult(out, written, len(files), sum(p.stat().st_size for p in files), time.perf_counter() - started)
