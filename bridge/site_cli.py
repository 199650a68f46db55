"""``python -m bridge site build``: render the microsite from data into site/_build."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .paths import project_root

DESCRIPTION = """\
Render the microsite from data only: site/_data/*.json (lean_status, audit), the evidence artifacts
(evidence/**/*.json), the claims (evidence/claims/*.json) and the ladders (ladders/, when present),
through the Jinja2 templates in site/templates. Charts use plotly.min.js copied from the installed
plotly package; the site needs no network. Every page states its provenance (commit, dirty flag,
the input files' SHA-256), and the same inputs build byte-identical output.

Exit status: 0 built; 2 bad input (the file, line and field are named) or usage; the previous
output directory is left intact on any failure.
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("site", help="build the static microsite from data", description=DESCRIPTION,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    ssub = p.add_subparsers(dest="site_command", metavar="SUBCOMMAND")
    b = ssub.add_parser("build", help="render site/_build from the data", description=DESCRIPTION,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    b.add_argument("--out", type=Path, default=None, help="output directory (default: <project>/site/_build)")
    b.add_argument("--root", type=Path, default=None, help="project root (default: the checkout containing the cwd)")
    b.add_argument("-q", "--quiet", action="store_true", help="print only the path of index.html")
    b.set_defaults(func=run_build)
    p.set_defaults(func=lambda args: (p.print_help(sys.stderr), 2)[1])


def run_build(args: argparse.Namespace) -> int:
    from .site.build import SiteBuildError, build_site
    from .site.inputs import SiteInputError

    root = (args.root or project_root()).resolve()
    try:
        result = build_site(root, args.out)
    except SiteInputError as exc:
        for line in exc.problems:
            print(f"bridge site: bad input: {line}", file=sys.stderr)
        return 2
    except SiteBuildError as exc:
        print(f"bridge site: error: {exc}", file=sys.stderr)
        return 2
    index = result.out / "index.html"
    if not args.quiet:
        print(f"site: {len(result.pages)} pages, {result.files} files, {result.bytes / 2**20:.1f} MiB "
              f"in {result.seconds:.1f} s -> {result.out}")
    print(index)
    return 0
