"""Audit throughput: 2,000 generated artifacts + 5,000 claims audited, shadows excluded.

Target (issue 5): ≤ 10 s on the 2-core reference machine. The claims mix direct artifact fields,
formulas over other claims, and ranges over table cells, as the reported and measured sets do.

    python benchmarks/bench_audit.py [--artifacts 2000] [--claims 5000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

from bridge.audit.runner import AuditOptions, run_audit
from moegauge import theorems as T
from moegauge.artifacts import build_artifact, measure, table

LEAN = "namespace MoEGauge\n" + "".join(
    f"theorem {name.split('.')[-1]} : 1 = 1 := rfl\n" for name in T.ALL_THEOREMS) + "end MoEGauge\n"


def generate(root: Path, n_artifacts: int, n_claims: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    (root / "lean").mkdir(parents=True)
    (root / "lean" / "Bench.lean").write_text(LEAN)
    (root / "pyproject.toml").write_text('[project]\nname = "moegauge"\n')
    template = build_artifact(
        kind="beta", artifact_id="template", description="generated",
        measures={f"m{i}": measure("beta", 0.5, "β") for i in range(8)},
        tables={"layers": table("per layer", {"layer": ("index", "layer"), "beta": ("beta", "β")},
                                [{"layer": i, "beta": 0.5} for i in range(16)])},
        relies_on=[T.MOMENT_RATIO_LE_ONE], root=root)
    values = {}
    for a in range(n_artifacts):
        doc = copy.deepcopy(template)
        doc["artifact_id"] = f"a{a:05d}"
        for i in range(8):
            v = round(rng.uniform(0.3, 0.95), 6)
            doc["measures"][f"m{i}"]["value"] = v
            values[(a, i)] = v
        for row in doc["tables"]["layers"]["rows"]:
            row["beta"] = round(rng.uniform(0.3, 0.95), 6)
        cells = [row["beta"] for row in doc["tables"]["layers"]["rows"]]
        values[(a, "range")] = f"{min(cells):.3f}–{max(cells):.3f}"
        path = root / "evidence" / "beta" / f"a{a:05d}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc))
    claims = []
    for c in range(n_claims):
        a, i = rng.randrange(n_artifacts), rng.randrange(8)
        src = {"artifact": f"evidence/beta/a{a:05d}.json", "pointer": f"/measures/m{i}/value"}
        kind = c % 5
        claim = {"id": f"c{c:05d}", "sentence": "generated", "quantity": "beta", "theorems": [T.MOMENT_RATIO_LE_ONE],
                 "appears_in": ["bench"], "paper_facing": c % 2 == 0, "value": f"{values[(a, i)]:.3f}", "source": src}
        if kind == 3 and c >= 5:
            claim.update(quantity="ratio", value="1", source={"formula": "x / x", "bindings": {"x": {"claim": f"c{c - 3:05d}"}}})
        elif kind == 4:
            claim.update(value=values[(a, "range")], source={"range_of": [
                {"artifact": f"evidence/beta/a{a:05d}.json", "pointer": f"/tables/layers/rows/{r}/beta"} for r in range(16)]})
        claims.append(claim)
    (root / "evidence" / "claims").mkdir(parents=True)
    (root / "evidence" / "claims" / "bench.json").write_text(json.dumps(
        {"schema": "moegauge/claims", "schema_version": 1, "set": "bench", "description": "generated", "claims": claims}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifacts", type=int, default=2000)
    ap.add_argument("--claims", type=int, default=5000)
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="audit-bench-"))
    try:
        generate(root, args.artifacts, args.claims)
        t0 = time.perf_counter()
        report = run_audit(AuditOptions(root=root, shadows=False, check_corpus=False))
        elapsed = time.perf_counter() - t0
        s = report.to_json()["summary"]
        print(f"audited {s['artifacts']} artifacts and {s['claims']} claims in {elapsed:.2f} s "
              f"(target ≤ 10 s): {s['error']} errors, {s['warning']} warnings, {s['info']} infos")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
