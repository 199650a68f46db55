"""What each page shows, computed from the inputs: one function per page returns its template context.

Templates only lay these out; every number they print arrives here from data, formatted by
:mod:`bridge.site.formats`.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from moegauge.theorems import ALL_THEOREMS

from . import figures, gengauss
from .formats import format_number, shown
from .inputs import Inputs
from .tables import Column, Table, artifact_table, cell, measures_table

#: (slug, title) in navigation order.
PAGES = (
    ("index", "Overview"),
    ("convergence", "Convergence"),
    ("lean", "Lean"),
    ("audit", "Audit"),
    ("ladders", "Ladders"),
    ("coactivation", "Co-activation"),
    ("kvcache", "KV caches"),
    ("explore", "Explore β"),
)
PAGE_TITLES = dict(PAGES)

#: The seeds' §1 table, in the seeds' column order (seed 002 §1 plus the SRHT perplexity).
SEED_TABLE_COLUMNS = ("model", "beta_raw", "beta_centered", "beta_srht", "beta_learned", "delta_beta",
                      "ppl_fp", "ppl_1bit_srht", "ppl_1bit_learned")
#: Artifact kinds and the page that renders them (for the Lean cross-link matrix).
KIND_PAGES = {"beta": "index", "summary": "index", "memory": "index", "ppl": "index",
              "convergence": "convergence", "coactivation": "coactivation", "corpus": "index",
              "kvcache": "kvcache"}
#: Where the co-activation study writes (seed 004; a later issue).
COACTIVATION_DIR = "evidence/coactivation/"
#: Where the kvcache stage writes (issue 13).
KVCACHE_DIR = "evidence/kvcache/"
#: Audit order inside a severity: arithmetic and unit contradictions first, then theorem status.
RULE_ORDER = ("claim.unit_conflation", "claim.recompute", "claim.implication", "claim.range",
              "theorem.not_proved", "theorem.missing", "claim.unit_ambiguous")
SEVERITY_ORDER = ("error", "warning", "info")
SEED_SET = "reported"
_SITE_PAGE = re.compile(r"^site:\s*([\w-]+)\s*(?:\((.*)\))?\s*$")


# --- claims and audit verdicts ---------------------------------------------------------------------

@dataclass
class Verdict:
    """A claim's audit badge: ``clean``, ``acknowledged``, ``error`` or ``unaudited``."""

    kind: str
    label: str
    findings: list[dict] = field(default_factory=list)
    computed: str | None = None
    status: str | None = None


def _findings_by_subject(inputs: Inputs) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for f in (inputs.audit or {}).get("findings", []):
        out[(f["file"], f["subject"])].append(f)
    return out


def claim_verdict(claim_file: str, claim_id: str, inputs: Inputs, by_subject=None) -> Verdict:
    if inputs.audit is None:
        return Verdict("unaudited", "not audited (no site/_data/audit.json: run python -m bridge audit)")
    rows = {(c["file"], c["id"]): c for c in inputs.audit["claims"]}
    row = rows.get((claim_file, claim_id))
    if row is None:
        return Verdict("unaudited", "not audited (the audit report predates this claim)")
    by_subject = by_subject if by_subject is not None else _findings_by_subject(inputs)
    found = sorted(by_subject.get((claim_file, claim_id), []), key=finding_sort_key)
    serious = [f for f in found if f["severity"] in ("error", "warning")]
    if any(not f["acknowledged"] for f in serious):
        kind, label = "error", "new finding"
    elif serious:
        kind, label = "acknowledged", "acknowledged finding"
    else:
        kind, label = "clean", "clean"
    return Verdict(kind, label, found, row.get("computed"), row.get("status"))


def finding_sort_key(f: dict) -> tuple:
    rule = RULE_ORDER.index(f["rule"]) if f["rule"] in RULE_ORDER else len(RULE_ORDER)
    idx = [int(p) if p.isdigit() else 0 for p in f["pointer"].split("/")[1:]] if f["pointer"] else []
    return (SEVERITY_ORDER.index(f["severity"]) if f["severity"] in SEVERITY_ORDER else len(SEVERITY_ORDER),
            rule, f["rule"], f["file"], idx, f["pointer"], f["subject"], f["message"])


def page_claims(inputs: Inputs, page: str) -> list[dict]:
    """Claims whose ``appears_in`` names ``site: <page>``, grouped by the parenthesised context."""
    by_subject = _findings_by_subject(inputs)
    groups: dict[str, list[dict]] = {}
    for cs in inputs.claim_sets:
        for i, c in enumerate(cs.claims):
            for where in c["appears_in"]:
                m = _SITE_PAGE.match(where)
                if not m or m.group(1) != page:
                    continue
                groups.setdefault(m.group(2) or "", []).append({
                    "id": c["id"], "file": cs.path, "pointer": f"/claims/{i}", "set": cs.set,
                    "sentence": c["sentence"], "value": c["value"], "quantity": c["quantity"],
                    "theorems": c["theorems"], "verdict": claim_verdict(cs.path, c["id"], inputs, by_subject),
                    "anchor": claim_anchor(c["id"]),
                })
                break
    return [{"context": k, "claims": v} for k, v in groups.items()]


def claim_anchor(claim_id: str) -> str:
    return "claim-" + re.sub(r"[^A-Za-z0-9_-]", "-", claim_id)


def theorem_anchor(name: str) -> str:
    return "thm-" + re.sub(r"[^A-Za-z0-9_-]", "-", name)


def data_href(rel: str) -> str:
    """Where the build keeps a copy of an input file (links work offline)."""
    return "data/" + rel


# --- index -----------------------------------------------------------------------------------------

def index_page(inputs: Inputs) -> dict:
    ctx: dict = {"claim_groups": page_claims(inputs, "index"), "seed_table_title": "The seeds' §1 table"}
    summary = inputs.artifact("evidence/summary/paper_table.json")
    ctx["seed_table"] = ctx["more_table"] = None
    if summary is not None and "models" in summary["tables"]:
        tab = summary["tables"]["models"]
        seed_cols = [c for c in SEED_TABLE_COLUMNS if c in tab["columns"]]
        seed = artifact_table("seed-table", {**tab, "columns": {k: tab["columns"][k] for k in seed_cols}},
                              order=list(seed_cols),
                              caption="The seeds' §1 table measured on this repository's models")
        more_cols = ["model"] + [c for c in tab["columns"] if c not in SEED_TABLE_COLUMNS]
        more = artifact_table("more-table", {**tab, "columns": {k: tab["columns"][k] for k in more_cols if k in tab["columns"]}},
                              order=more_cols, caption="Also measured: one-bit cosines and bits per byte")
        ctx["seed_table"], ctx["more_table"] = seed, more
        ctx["seed_table_title"] = "The seeds' §1 table, measured here"
        ctx["seed_table_note"] = tab.get("description", "")
        ctx["summary_path"] = "evidence/summary/paper_table.json"
    memory = inputs.artifact("evidence/memory/memory_budget.json")
    ctx["memory"] = None
    if memory is not None and "parts" in memory["tables"]:
        parts = memory["tables"]["parts"]
        labels = _cache_labels(parts["rows"])
        fig = figures.memory_figure(parts["rows"], labels)
        ctx["memory"] = {
            "figure": figures.to_json(fig),
            "parts": artifact_table("memory-parts", parts, order=["cache", "part", "bytes"]),
            "measures": measures_table("memory-measures", memory["measures"], memory["description"]),
            "path": "evidence/memory/memory_budget.json",
            "description": memory["description"],
        }
    ctx["lean_counts"] = _lean_counts(inputs)
    return ctx


def _cache_labels(rows: list[dict]) -> dict[str, str]:
    out = {}
    for c in dict.fromkeys(r["cache"] for r in rows):
        out[c] = c.replace("1bit_", "1-bit K, ").replace("_", " ").replace("fp16", "fp16 K + V")
    return out


def _lean_counts(inputs: Inputs) -> dict | None:
    ls = inputs.lean_status
    if ls is None:
        return None
    return {"counts": ls["counts"], "kernel_counts": ls["kernel_counts"], "reason": ls["kernel_run"]["reason"],
            "total": len(ls["declarations"])}


# --- convergence -----------------------------------------------------------------------------------

def convergence_page(inputs: Inputs) -> dict:
    betas = {d["provenance"]["config"].get("arm"): d for d in inputs.artifacts_of_kind("beta").values()
             if isinstance(d["provenance"]["config"], dict)}
    arms = []
    for rel, doc in inputs.artifacts_of_kind("convergence").items():
        arm = doc["provenance"]["config"].get("arm") if isinstance(doc["provenance"]["config"], dict) else None
        trace = doc["tables"].get("trace")
        crossings = doc["tables"].get("first_crossing", {"rows": [], "columns": {}})
        if trace is None:
            continue
        steps = doc["measures"].get("steps", {}).get("value")
        srht_rows = {}
        beta_doc = betas.get(arm)
        if beta_doc is not None and "layers" in beta_doc["tables"]:
            srht_rows = {r["layer"]: r for r in beta_doc["tables"]["layers"]["rows"]}
        layers = []
        for layer in sorted({r["layer"] for r in trace["rows"]}):
            rows = [r for r in trace["rows"] if r["layer"] == layer]
            cross = [c for c in crossings["rows"] if c["layer"] == layer]
            fig = figures.convergence_figure(layer, rows, cross, srht_rows.get(layer), steps)
            layers.append({
                "layer": layer, "figure": figures.to_json(fig), "id": f"conv-{_slug(arm or rel)}-{layer}",
                "summary": _crossing_sentence(layer, cross, steps, srht_rows.get(layer)),
                "trace": artifact_table(f"trace-{_slug(arm or rel)}-{layer}",
                                        {**trace, "rows": sorted(rows, key=lambda r: (r["variant"], r["step"]))},
                                        order=["variant", "step", "one_bit_cosine", "beta"],
                                        caption=f"Layer {layer}: every traced step"),
            })
        arms.append({"arm": arm or rel, "path": rel, "description": doc["description"], "layers": layers,
                     "crossing_table": _crossing_table(arm or rel, crossings, steps),
                     "crossing_note": crossings.get("description", ""), "steps": steps,
                     "beta_path": next((p for p, d in inputs.artifacts_of_kind("beta").items() if d is beta_doc), None)})
    order = _model_order(inputs)
    arms.sort(key=lambda a: (order.index(a["arm"]) if a["arm"] in order else len(order), a["arm"]))
    floor = 2 / math.pi
    floor_text = (f"cosine {format_number(math.sqrt(floor), 'one_bit_cosine')} = √(2/π) "
                  f"and β {format_number(floor, 'beta')} = 2/π")
    return {"arms": arms, "floor_text": floor_text}


def _model_order(inputs: Inputs) -> list[str]:
    """The model arms in the summary table's row order (the trained model first, as measured)."""
    summary = inputs.artifact("evidence/summary/paper_table.json")
    if summary is None or "models" not in summary["tables"]:
        return []
    return [str(r.get("model")) for r in summary["tables"]["models"]["rows"]]


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-")


def _crossing_table(arm: str, crossings: dict, steps) -> Table:
    thresholds = sorted({c["threshold"] for c in crossings["rows"]})
    columns = [Column("layer", "layer", "index"), Column("variant", "rotation", "label")] + [
        Column(f"t{i}", f"first step at cosine ≥ {format_number(t, 'one_bit_cosine')}", "label")
        for i, t in enumerate(thresholds)]
    rows = []
    keyed = {(c["layer"], c["variant"], c["threshold"]): c for c in crossings["rows"]}
    for layer, variant in sorted({(c["layer"], c["variant"]) for c in crossings["rows"]}):
        row: list = [cell(layer, "index"), figures.variant_label(variant)]
        for t in thresholds:
            c = keyed.get((layer, variant, t))
            if c is None:
                row.append("—")
            elif c["crossed"] == "yes":
                row.append(shown(c["step"], "steps"))
            else:
                row.append(f"not reached in {format_number(c['step'], 'steps')} steps")
        rows.append(row)
    return Table(f"crossings-{_slug(arm)}", f"First crossings ({arm})", columns, rows)


def _crossing_sentence(layer: int, cross: list[dict], steps, srht: dict | None) -> str:
    parts = []
    for c in sorted(cross, key=lambda c: (c["variant"], c["threshold"])):
        t = format_number(c["threshold"], "one_bit_cosine")
        if c["crossed"] == "yes":
            parts.append(f"{figures.variant_label(c['variant'])} reaches cosine {t} at step {c['step']}")
        else:
            parts.append(f"{figures.variant_label(c['variant'])} does not reach cosine {t} in {c['step']} steps")
    s = f"Layer {layer}: " + ("; ".join(parts) if parts else "no threshold data") + "."
    if srht is not None:
        s += (f" The SRHT on this layer gives cosine {format_number(srht['cos_srht'], 'one_bit_cosine')} and "
              f"β {format_number(srht['beta_srht'], 'beta')} (dashed).")
    return s


# --- Lean ------------------------------------------------------------------------------------------

def status_label(decl: dict) -> tuple[str, str]:
    """(css class, words) for a declaration's status and kernel state. Without the kernel a
    sorry-free declaration is never called just "proved"."""
    status, kernel = decl["status"], decl["kernel"]["status"]
    if status == "proved":
        if kernel == "checked":
            return "ok", "proved (kernel-checked)"
        if kernel == "failed":
            return "bad", "sorry-free, but the kernel check failed"
        return "warn", "sorry-free (not kernel-checked)"
    if status == "deferred":
        return "warn", "deferred (sorry, with a recorded reason)"
    if status == "in_flight":
        return "bad", "in flight (contains sorry or uses an unproved declaration)"
    if status == "stub":
        return "bad", "stub (statement only)"
    if status == "axiom":
        return "bad", "axiom"
    return "bad", status


def lean_page(inputs: Inputs) -> dict:
    ls = inputs.lean_status
    if ls is None:
        return {"lean": None, "claim_groups": page_claims(inputs, "lean")}
    files: dict[str, list[dict]] = defaultdict(list)
    for d in ls["declarations"]:
        cls, words = status_label(d)
        files[d["file"]].append({
            "name": d["name"], "kind": d["kind"], "status": d["status"], "status_class": cls, "status_words": words,
            "kernel": d["kernel"]["status"], "kernel_reason": d["kernel"].get("reason") or "",
            "statement": d["statement"], "doc": d["doc"] or "", "deferred_reason": d["deferred_reason"],
            "blocked_by": d["blocked_by"], "line": d["line"], "anchor": theorem_anchor(d["name"]),
            "source_href": f"{source_href(d['file'])}#L{d['line']}" if d["file"] in inputs.lean_sources else None,
        })
    return {
        "lean": ls, "files": [{"file": f, "declarations": sorted(v, key=lambda x: x["line"])}
                              for f, v in sorted(files.items())],
        "counts": _lean_counts(inputs), "matrix": crosslink_matrix(inputs),
        "claim_groups": page_claims(inputs, "lean"),
    }


def source_href(lean_file: str) -> str:
    return "lean-src/" + lean_file + ".html"


def crosslink_matrix(inputs: Inputs) -> dict:
    """Theorem × (artifacts, claims, pages) relying on it. Rows: the project's load-bearing theorems
    (``moegauge.theorems``) and every theorem a claim or artifact cites."""
    decls = {d["name"]: d for d in (inputs.lean_status or {}).get("declarations", [])}
    cited: dict[str, dict[str, set]] = defaultdict(lambda: {"artifacts": set(), "claims": set(), "pages": set()})
    for rel, doc in inputs.artifacts.items():
        for t in doc["relies_on"]:
            cited[t]["artifacts"].add(rel)
            cited[t]["pages"].add(KIND_PAGES.get(doc["kind"], "audit"))
    for cs in inputs.claim_sets:
        for c in cs.claims:
            for t in c["theorems"]:
                cited[t]["claims"].add((cs.path, c["id"]))
                cited[t]["pages"].add("audit")
                for where in c["appears_in"]:
                    m = _SITE_PAGE.match(where)
                    if m and m.group(1) in PAGE_TITLES:
                        cited[t]["pages"].add(m.group(1))
    names = list(dict.fromkeys([*ALL_THEOREMS, *sorted(cited)]))
    artifacts = sorted(inputs.artifacts)
    rows = []
    for name in names:
        c = cited[name]
        d = decls.get(name)
        cls, words = status_label(d) if d else ("bad", "not found in lean_status")
        rows.append({
            "name": name, "anchor": theorem_anchor(name) if d else None, "status_class": cls, "status_words": words,
            "artifacts": [a in c["artifacts"] for a in artifacts],
            "claims": [{"id": cid, "anchor": claim_anchor(cid)} for _, cid in sorted(c["claims"], key=lambda x: x[1])],
            "pages": [{"slug": p, "title": PAGE_TITLES[p]} for p, _ in PAGES if p in c["pages"]],
        })
    return {"artifacts": [{"path": a, "id": inputs.artifacts[a]["artifact_id"], "href": data_href(a)} for a in artifacts],
            "rows": rows}


def lean_source_pages(inputs: Inputs) -> list[dict]:
    out = []
    for rel, text in sorted(inputs.lean_sources.items()):
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        out.append({"file": rel, "href": source_href(rel), "lines": [{"n": i + 1, "text": t} for i, t in enumerate(lines)],
                    "sha256": inputs.files.get(rel, "")})
    return out


# --- audit -----------------------------------------------------------------------------------------

def audit_page(inputs: Inputs) -> dict:
    audit = inputs.audit
    if audit is None:
        return {"audit": None}
    sets = {cs.path: cs.set for cs in inputs.claim_sets}
    seeds, ours, infos = [], [], []
    for f in sorted(audit["findings"], key=finding_sort_key):
        row = {**f, "where": f["file"] + (f"#{f['pointer']}" if f["pointer"] else ""), "href": data_href(f["file"]),
               "anchor": claim_anchor(f["subject"]) if f["subject"] else ""}
        if f["severity"] == "info":
            infos.append(row)
        elif sets.get(f["file"]) == SEED_SET:
            seeds.append(row)
        else:
            ours.append(row)
    claims = []
    by_subject = _findings_by_subject(inputs)
    for c in sorted(audit["claims"], key=lambda c: (sets.get(c["file"]) != SEED_SET, c["file"], c["id"])):
        claims.append({**c, "anchor": claim_anchor(c["id"]),
                       "verdict": claim_verdict(c["file"], c["id"], inputs, by_subject)})
    return {"audit": audit, "seed_findings": seeds, "our_findings": ours, "info_findings": infos,
            "claims": claims, "shadows": audit.get("shadows", []), "unused": audit.get("unused_baseline", []),
            "summary": audit["summary"], "lean": audit["lean"]}


# --- ladders ---------------------------------------------------------------------------------------

RUNG_FIELDS = ("hypothesis", "command", "artifact", "preconditions", "success_gate", "kill_gate", "traps")


def ladders_page(inputs: Inputs) -> dict:
    ladders = []
    for lad in inputs.ladders:
        doc = lad.doc
        rungs = []
        for rung in doc["rungs"]:
            decision = lad.decisions.get(rung["id"])
            verdict = (decision or {}).get("verdict") or rung.get("status") or "not run"
            rungs.append({
                "id": rung["id"], "verdict": str(verdict),
                "fields": [(k.replace("_", " "), _text(rung[k])) for k in RUNG_FIELDS if k in rung],
                "artifact_href": data_href(rung["artifact"]) if isinstance(rung.get("artifact"), str)
                and rung["artifact"] in inputs.artifacts else None,
                "decision": [(k.replace("_", " "), _text(v)) for k, v in sorted((decision or {}).items())],
                "traps": _text((decision or {}).get("traps", rung.get("traps", ""))),
                "postmortem": lad.postmortems.get(rung["id"]),
            })
        queue = doc.get("queue") if isinstance(doc.get("queue"), list) else [r["id"] for r in doc["rungs"]]
        ladders.append({"path": lad.path, "name": str(doc.get("name") or doc.get("id") or lad.path),
                        "title": str(doc.get("title") or doc.get("description") or ""),
                        "round": doc.get("round"), "queue": [str(q) for q in queue], "rungs": rungs})
    return {"ladders": ladders, "ladder_files": inputs.ladder_files}


def _text(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "; ".join(_text(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_text(x)}" for k, x in sorted(v.items()))
    return "" if v is None else str(v)


# --- co-activation ---------------------------------------------------------------------------------

def coactivation_page(inputs: Inputs) -> dict:
    studies = []
    for rel, doc in sorted(inputs.artifacts.items()):
        if not (rel.startswith(COACTIVATION_DIR) or doc["kind"] == "coactivation"):
            continue
        slug = _slug(doc["artifact_id"])
        charts = []
        for name, tab in doc["tables"].items():
            fig = figures.table_figure(tab)
            if fig is not None:
                charts.append({"id": f"{slug}-{_slug(name)}-figure", "figure": figures.to_json(fig),
                               "caption": f"{tab.get('description') or name} (the table below holds the same rows)"})
        studies.append({"charts": charts,
            "path": rel, "href": data_href(rel), "id": doc["artifact_id"], "description": doc["description"],
            "measures": measures_table(f"{slug}-measures", doc["measures"], doc["description"]) if doc["measures"] else None,
            "tables": [artifact_table(f"{slug}-{_slug(name)}", tab) for name, tab in doc["tables"].items()],
        })
    return {"studies": studies, "seed_name": "seed 004"}


# --- KV caches ------------------------------------------------------------------------------------

def kvcache_page(inputs: Inputs) -> dict:
    """The kvcache stage's artifacts: the trade-off chart of every cache, then each artifact's
    measures and tables (the chart's rows are the methods table below it)."""
    studies = []
    chart = None
    for rel, doc in sorted(inputs.artifacts.items()):
        if not rel.startswith(KVCACHE_DIR):
            continue
        slug = _slug(doc["artifact_id"])
        if "methods" in doc["tables"] and doc["tables"]["methods"]["rows"]:
            chart = {"id": "kv-tradeoff-figure",
                     "figure": figures.to_json(figures.kv_tradeoff_figure(doc["tables"]["methods"]["rows"])),
                     "caption": "Held-out bits/byte against K bits per element for every cache (log x axis); "
                                f"the rows are the methods table of {rel}"}
        studies.append({
            "path": rel, "href": data_href(rel), "id": doc["artifact_id"], "description": doc["description"],
            "measures": measures_table(f"{slug}-measures", doc["measures"], doc["description"]) if doc["measures"] else None,
            "tables": [artifact_table(f"{slug}-{_slug(name)}", tab) for name, tab in doc["tables"].items()],
        })
    return {"studies": studies, "chart": chart, "kvcache_dir": KVCACHE_DIR,
            "claim_groups": page_claims(inputs, "kvcache")}


# --- explore ---------------------------------------------------------------------------------------

#: The readout's precision (β and √β); p is shown to the ratio precision.
READOUT_DECIMALS = 4
#: The widget's density trace (see figures.explore_figures; the β(p) marker is that figure's last trace).
DENSITY_TRACE = 0
BETA_FORMULA = "β(p) = Γ(2/p)² / (Γ(1/p) Γ(3/p))"
#: The density is drawn on [−X, X] with this many points.
DENSITY_HALF_WIDTH = 3.5
DENSITY_POINTS = 281


def beta_marks(inputs: Inputs) -> list[dict]:
    """The measured models' β values (every β column of the summary table), each with the shape p
    whose β(p) equals it, or None when no generalised Gaussian has that β."""
    summary = inputs.artifact("evidence/summary/paper_table.json")
    if summary is None or "models" not in summary["tables"]:
        return []
    tab = summary["tables"]["models"]
    marks = []
    for row in tab["rows"]:
        for key, col in tab["columns"].items():
            if col["quantity"] != "beta":
                continue
            beta = row[key]
            marks.append({"model": row.get("model", ""), "column": col.get("description") or key, "beta": beta,
                          "p": gengauss.p_of_beta(beta),
                          "label": f"{row.get('model', '')}: {col.get('description') or key} {format_number(beta, 'beta')}"})
    return marks


def explore_page(inputs: Inputs) -> dict:
    grid = gengauss.SLIDER
    start = grid.index_of(gengauss.GAUSSIAN_P)
    table = grid.table()
    xs = figures.density_grid(DENSITY_POINTS, DENSITY_HALF_WIDTH)
    marks = beta_marks(inputs)
    dens, curve = figures.explore_figures(table[start]["p"], xs, marks)
    from .snapshot import snapshot_svg

    landmarks = Table("landmarks", "β and its one-bit cosine at the family's landmarks", [
        Column("law", "law", "label"), Column("p", "shape p", "label"), Column("beta", "β(p)", "beta"),
        Column("cos", "cosine √β", "one_bit_cosine")], [
        ["Laplace", shown(gengauss.LAPLACE_P, "count"), shown(gengauss.beta_of_p(gengauss.LAPLACE_P), "beta"),
         shown(gengauss.cosine_of_p(gengauss.LAPLACE_P), "one_bit_cosine")],
        ["Gaussian", shown(gengauss.GAUSSIAN_P, "count"), shown(gengauss.beta_of_p(gengauss.GAUSSIAN_P), "beta"),
         shown(gengauss.cosine_of_p(gengauss.GAUSSIAN_P), "one_bit_cosine")],
        [f"slider's end (p = {table[-1]['p']:g})", shown(table[-1]["p"], "count"), shown(table[-1]["beta"], "beta"),
         shown(table[-1]["cosine"], "one_bit_cosine")],
        ["uniform (p → ∞)", "∞", shown(gengauss.UNIFORM_BETA, "beta"), shown(math.sqrt(gengauss.UNIFORM_BETA), "one_bit_cosine")],
    ])
    mark_rows = []
    lo, hi = table[0]["p"], table[-1]["p"]
    for m in marks:
        if m["p"] is None:
            where = (f"no generalised Gaussian: above the uniform limit {format_number(gengauss.UNIFORM_BETA, 'beta')}"
                     if m["beta"] >= gengauss.UNIFORM_BETA else "no generalised Gaussian in range")
        elif m["p"] < lo:
            where = f"p = {format_number(m['p'], 'ratio')}: heavier tails than Laplace (left of the slider)"
        elif m["p"] > hi:
            where = f"p = {format_number(m['p'], 'ratio')}: beyond the slider's end"
        else:
            where = f"p = {format_number(m['p'], 'ratio')}"
        mark_rows.append([m["model"], m["column"], shown(m["beta"], "beta"), where])
    marks_table = Table("marks", "Where this project's measured models sit", [
        Column("model", "model", "label"), Column("what", "measured", "label"), Column("beta", "β", "beta"),
        Column("p", "generalised Gaussian with that β", "label")], mark_rows)
    grid_json = figures.script_json({"table": table, "xs": xs})
    return {
        "grid_json": grid_json, "start": start, "last": len(table) - 1, "slider_min": 0, "slider_step": 1,
        "density_trace": DENSITY_TRACE, "marker_trace": len(curve.data) - 1, "readout_decimals": READOUT_DECIMALS,
        "readout_precision": f"{READOUT_DECIMALS} decimals", "beta_formula": BETA_FORMULA,
        "laplace_p": format_number(gengauss.LAPLACE_P, "count"), "gaussian_p": format_number(gengauss.GAUSSIAN_P, "count"),
        "density_figure": figures.to_json(dens), "curve_figure": figures.to_json(curve),
        "start_row": table[start], "p_decimals": _decimals("ratio"),
        "landmarks": landmarks, "marks_table": marks_table, "snapshot_svg": snapshot_svg(xs, marks),
        "start_text": {"p": f"{table[start]['p']:.{_decimals('ratio')}f}",
                       "beta": f"{table[start]['beta']:.{READOUT_DECIMALS}f}",
                       "cos": f"{table[start]['cosine']:.{READOUT_DECIMALS}f}"},
    }


def _decimals(quantity: str) -> int:
    from .formats import precision_of

    kind, n = precision_of(quantity)
    return n if kind == "fixed" else 0
