"""Run-to-run spread of every measured number: the same study rerun with other CPU kernels,
another thread count and other seeds, side by side with the main run's evidence.

A number is only worth stating at a precision its spread supports: a user's rerun on a CPU that
rounds differently (AVX2 instead of AVX-512), with one thread instead of two, or with another seed
for the rotation learning and calibration windows, must land inside the stated precision. Each
variant reruns the capture, beta, ppl and memory stages into its own evidence directory
(``evidence/spread/runs/<variant>/``, git-ignored) in a fresh subprocess — the kernel level is chosen
when torch loads (``ATEN_CPU_CAPABILITY``), so it cannot change inside one process. The spread
artifact lists, per numeric field of every main artifact, the main value, each variant's value and
the largest absolute deviation; ``moegauge.lm.measured_claims`` states each claim at a precision
that covers it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..artifacts import load_artifact

SPREAD_STAGES = ("capture", "beta", "ppl", "memory")
#: Artifacts compared (relative to an evidence directory); ``{arm}`` expands to every arm.
COMPARED = ("beta/beta_table_{arm}.json", "convergence/convergence_{arm}.json", "ppl/ppl_table_{arm}.json",
            "memory/memory_budget.json")
SKIPPED_QUANTITIES = frozenset({"label", "index"})


@dataclass(frozen=True)
class Variant:
    name: str
    what: str
    config: dict = field(default_factory=dict)  # RunConfig overrides
    env: dict = field(default_factory=dict)  # environment of the subprocess


VARIANTS = (
    Variant("seed1", "seed 1: other rotation initialisation, minibatches, SRHT signs and calibration windows",
            {"seed": 1, "srht_seed": 1}),
    Variant("seed2", "seed 2: likewise", {"seed": 2, "srht_seed": 2}),
    Variant("threads1", "one torch thread instead of two (other reduction order)", {"threads": 1}),
    Variant("avx2", "CPU kernels capped at AVX2 (ATEN_CPU_CAPABILITY=avx2)", {}, {"ATEN_CPU_CAPABILITY": "avx2"}),
)


def numeric_fields(doc: dict) -> dict[str, tuple[str, float]]:
    """JSON pointer → (quantity, value) of every number in an artifact's measures and tables."""
    out: dict[str, tuple[str, float]] = {}
    for name, m in doc.get("measures", {}).items():
        if isinstance(m.get("value"), (int, float)) and m["quantity"] not in SKIPPED_QUANTITIES:
            out[f"/measures/{name}/value"] = (m["quantity"], float(m["value"]))
    for tname, tab in doc.get("tables", {}).items():
        cols = tab["columns"]
        for i, row in enumerate(tab["rows"]):
            for col, v in row.items():
                q = cols[col]["quantity"]
                if q not in SKIPPED_QUANTITIES and isinstance(v, (int, float)) and not isinstance(v, bool):
                    out[f"/tables/{tname}/rows/{i}/{col}"] = (q, float(v))
    return out


def compared_paths(arms: tuple[str, ...]) -> list[str]:
    out = []
    for pattern in COMPARED:
        for arm in (arms if "{arm}" in pattern else ("",)):
            path = pattern.format(arm=arm)
            if path not in out:
                out.append(path)
    return out


def run_variant(config: dict, evidence_dir: Path, variant: Variant, log=print) -> float:
    """Rerun the spread stages for one variant in a subprocess; returns its wall time."""
    cfg = {**config, **variant.config}
    env = {**os.environ, **variant.env}
    cmd = [sys.executable, "-m", "moegauge.lm.spread", json.dumps(cfg), str(evidence_dir)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        log(f"    [{variant.name}] {line.rstrip()}")
    if proc.wait() != 0:
        raise RuntimeError(f"spread variant {variant.name} failed (exit {proc.returncode}); see the lines above")
    return time.perf_counter() - t0


def spread_rows(main_dir: Path, variant_dirs: dict[str, Path], arms: tuple[str, ...],
                paths: list[str] | None = None) -> dict[str, list[dict]]:
    """Per quantity, one row per numeric field: main value, each variant's, and the largest
    absolute deviation from the main value (fields a variant lacks are skipped)."""
    by_quantity: dict[str, list[dict]] = {}
    for rel in paths if paths is not None else compared_paths(arms):
        main = numeric_fields(load_artifact(main_dir / rel))
        others = {name: numeric_fields(load_artifact(d / rel)) for name, d in variant_dirs.items()}
        for pointer, (q, v) in main.items():
            if not all(pointer in o for o in others.values()):
                continue
            row = {"artifact": f"evidence/{rel}", "pointer": pointer, "main": v}
            row.update({name: o[pointer][1] for name, o in others.items()})
            row["max_abs_deviation"] = max(abs(o[pointer][1] - v) for o in others.values())
            by_quantity.setdefault(q, []).append(row)
    return by_quantity


def _variant_main() -> int:
    """Subprocess entry: ``python -m moegauge.lm.spread CONFIG_JSON EVIDENCE_DIR``."""
    from ..paths import find_repo_root
    from .study import RunConfig, Study

    cfg = RunConfig(**json.loads(sys.argv[1]))
    study = Study(cfg, find_repo_root(), evidence_dir=Path(sys.argv[2]), progress=False,
                  log=lambda s: print(s, flush=True))
    study.run(SPREAD_STAGES)
    return 0


if __name__ == "__main__":
    sys.exit(_variant_main())
