"""Expert-placement maps (``evidence/placements/*.json``, schema ``moegauge/expert_placement`` v1).

They are not artifacts but data a serving engine loads, so they are checked for what an engine
relies on: the JSON Schema; per layer, ``phy2log`` a permutation of the logical experts, ``log2phy``
its inverse (padded with −1), ``logcnt`` the replica counts; equal slots per device; and a
``source_artifact`` that exists and whose provenance the map carries.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from .findings import Finding

PLACEMENTS_DIR = "placements"


@lru_cache(maxsize=1)
def _validator():
    from importlib import resources

    import jsonschema

    text = resources.files("moegauge").joinpath("schemas/expert_placement.v1.schema.json").read_text(encoding="utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def _consistency(doc: dict) -> tuple[str, str] | None:
    n, p, d = doc["num_logical_experts"], doc["num_physical_experts"], doc["num_devices"]
    if p % d:
        return "/num_physical_experts", f"{p} physical slots do not split evenly over {d} devices"
    for key in ("phy2log", "log2phy", "logcnt"):
        if len(doc[key]) != len(doc["layers"]):
            return f"/{key}", f"{len(doc[key])} layers, 'layers' names {len(doc['layers'])}"
    for li, (p2l, l2p, cnt) in enumerate(zip(doc["phy2log"], doc["log2phy"], doc["logcnt"])):
        if len(p2l) != p or any(not 0 <= e < n for e in p2l):
            return f"/phy2log/{li}", f"must hold {p} logical expert ids in [0, {n})"
        if len(l2p) != n or len(cnt) != n:
            return f"/log2phy/{li}", f"must have one row per logical expert ({n})"
        for e in range(n):
            slots = [s for s in l2p[e] if s >= 0]
            if len(slots) != cnt[e] or any(p2l[s] != e for s in slots if s < p):
                return f"/log2phy/{li}/{e}", "is not the inverse of phy2log (or disagrees with logcnt)"
        if sorted(set(p2l)) != list(range(n)):
            return f"/phy2log/{li}", "does not place every logical expert"
    return None


def check_placements(evidence: Path, root: Path) -> list[Finding]:
    out = []
    d = evidence / PLACEMENTS_DIR
    for path in sorted(d.glob("*.json")) if d.is_dir() else []:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            out.append(Finding("placement.invalid", "error", rel, "", f"unreadable: {str(exc)[:200]}"))
            continue
        err = next(iter(sorted(_validator().iter_errors(doc), key=lambda e: list(e.absolute_path))), None)
        if err is not None:
            ptr = "/" + "/".join(str(x) for x in err.absolute_path)
            out.append(Finding("placement.invalid", "error", rel, ptr, err.message[:200]))
            continue
        bad = _consistency(doc)
        if bad:
            out.append(Finding("placement.invalid", "error", rel, *bad))
            continue
        src = root / doc["source_artifact"]
        if not src.is_file():
            out.append(Finding("placement.source", "error", rel, "/source_artifact",
                               f"{doc['source_artifact']} does not exist"))
            continue
        try:
            src_prov = json.loads(src.read_text(encoding="utf-8"))["provenance"]
        except (OSError, ValueError, KeyError):
            src_prov = None
        if src_prov != doc["provenance"]:
            out.append(Finding("placement.source", "warning", rel, "/provenance",
                               f"made by another run than {doc['source_artifact']}: rerun the stage that makes both"))
    return out
