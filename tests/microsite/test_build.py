"""The site builder without a browser: data only, byte-identical, bad input, empty states."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from bridge.site.build import build_site
from bridge.site.inputs import SiteInputError, load_inputs
from bridge.site.pages import PAGES, audit_page, claim_verdict, status_label
from site_fixture import REPO, edit_json, make_root, tree_bytes

#: Identifiers that contain digits and are not numbers (tag names, encodings, hash names).
NOT_NUMBERS = re.compile(r"utf-8|SHA-256|[A-Za-z_][A-Za-z0-9_]*")


def _numeric_literals(text: str) -> list[str]:
    return re.findall(r"\d+(?:\.\d+)?", NOT_NUMBERS.sub(" ", text))


@pytest.mark.parametrize("path", sorted((REPO / "site" / "templates").glob("*.html")) + [REPO / "site" / "static" / "site.js"],
                         ids=lambda p: p.name)
def test_no_number_is_typed_into_a_template(path):
    found = _numeric_literals(path.read_text(encoding="utf-8"))
    assert not found, f"{path.name}: numeric literals {found}; numbers come from data"


def test_the_literal_check_can_fail():
    assert _numeric_literals("<h2>β = 0.637</h2> {{ x + 1 }}") == ["0.637", "1"]
    assert _numeric_literals('<meta charset="utf-8"><h1>{{ f.sha256 }}</h1> SHA-256') == []


def _cli(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "bridge", "site", "build", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_same_inputs_build_the_same_bytes(tmp_path):
    root = make_root(tmp_path)
    a, b = tmp_path / "a", tmp_path / "b"
    build_site(root, a)
    build_site(root, b)
    ta, tb = tree_bytes(a), tree_bytes(b)
    assert ta.keys() == tb.keys()
    assert [k for k in ta if ta[k] != tb[k]] == []
    assert {f"{slug}.html" for slug, _ in PAGES} <= ta.keys()
    assert "assets/plotly.min.js" in ta


def test_every_page_states_its_provenance(tmp_path):
    root = make_root(tmp_path)
    out = tmp_path / "out"
    build_site(root, out)
    inputs = load_inputs(root)
    digest = inputs.digest()
    for page in out.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        assert f"<code data-digest>{digest}</code>" in html, page
        assert "data-commit" in html and "data-dirty" in html
        for rel, sha in inputs.files.items():
            assert sha in html, (page, rel)
    # A changed data file changes the digest and the pages.
    edit_json(root / "evidence" / "summary" / "paper_table.json",
              lambda d: d["tables"]["models"]["rows"][0].update(beta_raw=0.5))
    assert load_inputs(root).digest() != digest
    build_site(root, out)
    assert digest not in (out / "index.html").read_text(encoding="utf-8")
    assert 'data-value="0.5"' in (out / "index.html").read_text(encoding="utf-8")


def test_cli_builds_and_prints_index(tmp_path):
    out = tmp_path / "site-out"
    proc = _cli("--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(out.resolve() / "index.html")
    assert (out / "index.html").is_file() and (out / "assets" / "plotly.min.js").is_file()


@pytest.mark.parametrize("breakage, expected", [
    (lambda p: p.write_text('{"schema": "moegauge/artifact",\n  "kind": oops}\n'),
     r"evidence/summary/paper_table\.json:2: invalid JSON"),
    (lambda p: edit_json(p, lambda d: d["tables"]["models"]["rows"][1].update(beta_raw="high")),
     r"evidence/summary/paper_table\.json:\d+: /tables/models/rows/1/beta_raw: beta column holds a non-number"),
    (lambda p: edit_json(p, lambda d: d.pop("relies_on")),
     r"evidence/summary/paper_table\.json:1: /: 'relies_on' is a required property"),
])
def test_bad_input_exits_2_and_keeps_the_previous_site(tmp_path, breakage, expected):
    root = make_root(tmp_path)
    out = tmp_path / "out"
    assert _cli("--root", str(root), "--out", str(out)).returncode == 0
    before = tree_bytes(out)
    breakage(root / "evidence" / "summary" / "paper_table.json")
    proc = _cli("--root", str(root), "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.search(expected, proc.stderr), proc.stderr
    assert tree_bytes(out) == before
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".out")], "no temporary directory left"


def test_bad_field_line_points_at_the_field(tmp_path):
    root = make_root(tmp_path)
    path = root / "evidence" / "summary" / "paper_table.json"
    edit_json(path, lambda d: d["tables"]["models"]["rows"][1].update(ppl_fp="x"))
    with pytest.raises(SiteInputError) as exc:
        load_inputs(root)
    (problem,) = exc.value.problems
    line = int(problem.split(":")[1])
    assert '"ppl_fp": "x"' in path.read_text().splitlines()[line - 1]


def test_bad_site_data_is_named(tmp_path):
    root = make_root(tmp_path)
    edit_json(root / "site" / "_data" / "audit.json", lambda d: d["findings"][2].pop("message"))
    with pytest.raises(SiteInputError) as exc:
        load_inputs(root)
    assert any(re.match(r"site/_data/audit\.json:\d+: /findings/2: missing field\(s\) message", p)
               for p in exc.value.problems), exc.value.problems


def test_no_data_builds_empty_states(tmp_path):
    root = make_root(tmp_path, data=False)
    out = tmp_path / "out"
    build_site(root, out)
    text = {slug: (out / f"{slug}.html").read_text(encoding="utf-8") for slug, _ in PAGES}
    assert "No ladder exists yet" in text["ladders"]
    assert "No co-activation study has run yet" in text["coactivation"]
    assert "No <code>site/_data/audit.json</code> yet" in text["audit"]
    assert "No <code>site/_data/lean_status.json</code> yet" in text["lean"]
    assert "No convergence artifact yet" in text["convergence"]
    assert "No summary artifact yet" in text["index"]
    assert 'id="beta-widget"' in text["explore"]


def test_repository_has_no_ladder_or_coactivation_yet_and_says_so(tmp_path):
    root = make_root(tmp_path)
    out = tmp_path / "out"
    build_site(root, out)
    if not (REPO / "ladders").exists():
        assert 'id="no-ladder"' in (out / "ladders.html").read_text(encoding="utf-8")
    coact = (out / "coactivation.html").read_text(encoding="utf-8")
    if not (REPO / "evidence" / "coactivation").exists():
        assert 'id="no-coactivation"' in coact
    else:  # the study has run: every one of its artifacts is on the page, no empty state
        assert 'id="no-coactivation"' not in coact
        for art in sorted((REPO / "evidence" / "coactivation").glob("*.json")):
            assert json.loads(art.read_text(encoding="utf-8"))["artifact_id"] in coact


def test_ladder_specs_decisions_and_postmortems_render(tmp_path):
    root = make_root(tmp_path)
    lad = root / "ladders"
    (lad / "demo" / "R1").mkdir(parents=True)
    (lad / "demo.json").write_text(json.dumps({
        "name": "demo", "title": "A two-rung demo ladder", "round": 1,
        "rungs": [{"id": "R1", "hypothesis": "centering lifts β", "success_gate": "lift > x", "kill_gate": "lift < y",
                   "artifact": "evidence/beta/beta_table_trained.json"},
                  {"id": "R2", "hypothesis": "the lift survives 1-bit", "preconditions": ["R1"]}]}))
    (lad / "demo" / "R1" / "decision.json").write_text(json.dumps({"rung": "R1", "verdict": "KILL", "trigger": "kill_gate"}))
    (lad / "demo" / "R1" / "postmortem.md").write_text("# R1\nThe lift was negative.\n")
    out = tmp_path / "out"
    build_site(root, out)
    html = (out / "ladders.html").read_text(encoding="utf-8")
    assert "No ladder exists yet" not in html
    assert "A two-rung demo ladder" in html and "<strong>KILL</strong>" in html and "not run" in html
    assert "The lift was negative." in html and "centering lifts β" in html
    assert html.index("<code>R1</code> → <code>R2</code>") > 0
    assert 'href="data/evidence/beta/beta_table_trained.json"' in html


def test_coactivation_artifacts_render_tables_and_charts(tmp_path):
    from moegauge.artifacts import build_artifact, dumps, measure, table

    root = make_root(tmp_path)
    doc = build_artifact(
        kind="coactivation", artifact_id="coactivation_test1", description="Pairwise co-firing against a shuffle null.",
        measures={"layers": measure("count", 2, "layers traced")},
        tables={"excess": table("Co-firing excess per layer", {
            "layer": ("index", "decoder layer"), "gain": ("ratio", "observed / null"), "arm": ("label", "arm")},
            [{"layer": 0, "gain": 1.25, "arm": "real"}, {"layer": 1, "gain": 1.5, "arm": "real"},
             {"layer": 0, "gain": 1.0, "arm": "shuffled"}, {"layer": 1, "gain": 1.0, "arm": "shuffled"}])},
        root=root)
    html = _page_with_artifact(root, tmp_path / "out", "coactivation/coactivation_test1.json", dumps(doc),
                               "coactivation.html")
    assert "No co-activation study has run yet" not in html
    assert "Co-firing excess per layer" in html and 'data-value="1.25"' in html and ">1.250<" in html
    assert 'data-figure="coactivation-test1-excess-figure"' in html


def _page_with_artifact(root: Path, out: Path, rel: str, text: str, page: str) -> str:
    """Build the site of ``root`` with one more artifact (``evidence/<rel>``); the HTML of ``page``."""
    path = root / "evidence" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    build_site(root, out)
    return (out / page).read_text(encoding="utf-8")


@pytest.mark.parametrize("status", ["proved", "in_flight", "stub", "deferred", "axiom"])
@pytest.mark.parametrize("kernel", ["checked", "failed", "unchecked"])
def test_unchecked_kernel_is_never_called_proved(status, kernel):
    _, words = status_label({"status": status, "kernel": {"status": kernel}})
    if kernel != "checked":
        assert not re.search(r"\bproved\b", words), words
    if status == "proved" and kernel == "unchecked":
        assert words == "sorry-free (not kernel-checked)"


def test_lean_page_entries(tmp_path):
    root = make_root(tmp_path)
    out = tmp_path / "out"
    build_site(root, out)
    html = (out / "lean.html").read_text(encoding="utf-8")
    status = json.loads((root / "site" / "_data" / "lean_status.json").read_text(encoding="utf-8"))
    for d in status["declarations"]:
        assert f'id="thm-{re.sub(r"[^A-Za-z0-9_-]", "-", d["name"])}"' in html
        link = f'href="lean-src/{d["file"]}.html#L{d["line"]}"'
        assert link in html, link
        src = (out / "lean-src" / f'{d["file"]}.html').read_text(encoding="utf-8")
        assert f'id="L{d["line"]}"' in src
    assert ">proved<" not in html
    assert 'id="crosslink-matrix"' in html


def test_seed_findings_come_first():
    inputs = load_inputs(REPO)
    seeds = audit_page(inputs)["seed_findings"]
    assert [f["subject"] for f in seeds[:3]] == ["s001.floor_beta", "s001.ppl_degradation", "s001.kv_ratio"]
    assert seeds[0]["rule"] == "claim.unit_conflation"


def test_badges_follow_the_audit(tmp_path):
    root = make_root(tmp_path)
    inputs = load_inputs(root)
    measured = "evidence/claims/measured.json"
    assert claim_verdict(measured, "m.raw_beta", inputs).kind == "clean"
    assert claim_verdict(measured, "m.srht_cos", inputs).kind == "acknowledged"
    assert claim_verdict(measured, "m.not_a_claim", inputs).kind == "unaudited"

    def forget_reason(doc):
        for f in doc["findings"]:
            if f["subject"] == "m.srht_cos" and f["severity"] != "info":
                f["acknowledged"] = None
    edit_json(root / "site" / "_data" / "audit.json", forget_reason)
    assert claim_verdict(measured, "m.srht_cos", load_inputs(root)).kind == "error"


def test_build_output_is_git_ignored():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    for path in ("site/_build/index.html", "tests/_artifacts/microsite/index-1280.png"):
        proc = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO, capture_output=True)
        assert proc.returncode == 0, path


def test_site_folder_is_not_a_python_package():
    assert not (REPO / "site" / "__init__.py").exists()
    assert not list((REPO / "site").rglob("*.py"))


def test_more_layers_models_and_columns_render(tmp_path):
    """Regenerated evidence may have more layers, arms and columns: the pages follow the data."""
    root = make_root(tmp_path)

    def more_layers(doc):
        for name in ("trace", "first_crossing"):
            rows = doc["tables"][name]["rows"]
            rows += [{**r, "layer": r["layer"] + 4} for r in rows]
    edit_json(root / "evidence" / "convergence" / "convergence_trained.json", more_layers)

    def more_models(doc):
        tab = doc["tables"]["models"]
        tab["columns"]["beta_pre_rope"] = {"description": "β before RoPE", "quantity": "beta"}
        for r in tab["rows"]:
            r["beta_pre_rope"] = 0.5
        tab["rows"].append({**tab["rows"][0], "model": "third_arm", "beta_raw": 0.4321})
    edit_json(root / "evidence" / "summary" / "paper_table.json", more_models)
    out = tmp_path / "out"
    build_site(root, out)
    conv = (out / "convergence.html").read_text(encoding="utf-8")
    for layer in range(8):
        assert f'data-figure="conv-trained-{layer}"' in conv
    index = (out / "index.html").read_text(encoding="utf-8")
    assert ">third_arm<" in index and 'data-value="0.4321"' in index and ">0.432<" in index
    assert "β before RoPE" in index
    explore = (out / "explore.html").read_text(encoding="utf-8")
    assert "third_arm" in explore


def test_data_cannot_break_out_of_markup(tmp_path):
    root = make_root(tmp_path)
    evil = "keys</script><script>alert(document.domain)</script>"

    def inject(doc):
        doc["tables"]["parts"]["rows"][0]["part"] = evil
        doc["description"] = evil
    edit_json(root / "evidence" / "memory" / "memory_budget.json", inject)
    out = tmp_path / "out"
    build_site(root, out)
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert" in html  # the text is shown, escaped


def test_kvcache_artifacts_render_the_tradeoff_chart_and_tables(tmp_path):
    from moegauge.artifacts import build_artifact, dumps, measure, table

    root = make_root(tmp_path)
    cols = {"method": ("label", "cache"), "family": ("label", "family"), "k_bits": ("bits_per_element", "K bits"),
            "v_bits": ("bits_per_element", "V bits"), "bpb_all": ("bits_per_byte", "bits/byte")}
    rows = [{"method": "fp16", "family": "baseline", "k_bits": 16.0, "v_bits": 16.0, "bpb_all": 2.0},
            {"method": "1bit_srht", "family": "ours", "k_bits": 1.25, "v_bits": 16.0, "bpb_all": 2.25},
            {"method": "kivi_2bit", "family": "peer", "k_bits": 2.75, "v_bits": 2.75, "bpb_all": 2.125}]
    doc = build_artifact(kind="kvcache", artifact_id="kv_methods", description="Every cache side by side.",
                         measures={"methods_run": measure("count", 3, "caches")},
                         tables={"methods": table("Every cache", cols, rows)}, root=root)
    html = _page_with_artifact(root, tmp_path / "out", "kvcache/kv_methods.json", dumps(doc), "kvcache.html")
    assert 'id="no-kvcache"' not in html
    assert 'data-figure="kv-tradeoff-figure"' in html and "kivi_2bit" in html and 'data-value="2.125"' in html


def test_kvcache_page_says_when_the_stage_has_not_run(tmp_path):
    root = make_root(tmp_path)
    import shutil

    shutil.rmtree(root / "evidence" / "kvcache", ignore_errors=True)
    out = tmp_path / "out"
    build_site(root, out)
    assert 'id="no-kvcache"' in (out / "kvcache.html").read_text(encoding="utf-8")
