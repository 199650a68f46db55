"""The four tests of seed 004 on one router trace (pure: a trace in, rows out).

Budgets, capacities and device counts are the seed's, stated for 64 experts (B ∈ {12, 16, 24, 32},
C ∈ {16, 24, 32}, D ∈ {2, 4, 8}) and scaled to N/64 for other routers (kept within [k, N]).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from . import caches, placement, prefetch, structure
from .trace import RouterTrace


@dataclass(frozen=True)
class CoactivationConfig:
    """Everything that determines the numbers of the co-activation study."""

    tokens_per_domain: int = 32768  # held-out tokens per corpus domain in the trace
    seq_len: int = 256  # window the router sees (context resets between windows)
    batch_size: int = 8
    shuffles: int = 24  # shuffle-null repetitions (≥ 20)
    group_size: int | None = None  # experts per co-activation group; None: top-k
    budgets_of_64: tuple[int, ...] = (12, 16, 24, 32)
    capacities_of_64: tuple[int, ...] = (16, 24, 32)
    devices: tuple[int, ...] = (2, 4, 8)
    seed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def scaled(values, n: int, k: int) -> list[int]:
    return sorted({min(n, max(k, round(v * n / 64))) for v in values})


TESTS = ("structure", "prefetch", "caches", "placement")


def analyse(trace: RouterTrace, cfg: CoactivationConfig, log: Callable[[str], None] = lambda s: None,
            tests: tuple[str, ...] = TESTS) -> dict:
    """Tests 1–4 (or the ``tests`` named) on ``trace``: learn on each document's first half, score
    on its second."""
    n, k = trace.num_experts, trace.top_k
    learn, ev = trace.halves()
    if learn.size == 0 or ev.size < 2:
        raise ValueError("the trace has too few tokens for a learn/eval split")
    group = cfg.group_size or k
    budgets = scaled(cfg.budgets_of_64, n, k)
    caps = scaled(cfg.capacities_of_64, n, k)
    devices = [d for d in cfg.devices if n % d == 0]
    prev_idx, next_idx = trace.successor_pairs(ev)
    rng = np.random.default_rng(cfg.seed)
    out = {"structure": [], "prefetch": [], "caches": [], "placement": [], "placements": {},
           "learn_tokens": int(learn.size), "eval_tokens": int(ev.size), "pairs": int(prev_idx.size),
           "budgets": budgets, "capacities": caps, "devices": devices, "group_size": group}
    a_learn_layers = []
    for li, layer in enumerate(trace.layers):
        tk = trace.topk[li]
        a_all = structure.firing_matrix(tk, n)
        a_learn = a_all[learn]
        a_learn_layers.append(a_learn)
        if "structure" in tests:
            s = structure.structure_of_layer(a_learn, a_all[ev], group, cfg.shuffles, rng)
            out["structure"].append({"layer": layer, **{key: v for key, v in s.items() if key != "labels"}})
            log(f"  layer {layer}: gain {s['gain']:.3f}, null {s['null_mean']:.3f}")
        if "prefetch" in tests:
            for row in prefetch.prefetch_hit_rates(a_learn, a_all[prev_idx], a_all[next_idx], budgets, k):
                out["prefetch"].append({"layer": layer, **row})
        if "placement" in tests:
            for d in devices:
                pls = placement.placements(a_learn, d, cfg.seed + 1000 * li + d)
                for name, pl in pls.items():
                    out["placements"].setdefault((name, d), []).append(pl)
                    out["placement"].append({"layer": layer, "devices": d, "policy": name,
                                             **placement.score(tk[ev], pl, d)})
    if "caches" in tests:
        for row in caches.replay(trace.topk[:, ev], n, caps, a_learn_layers):
            row["layer"] = trace.layers[row.pop("layer_index")]
            out["caches"].append(row)
    return out
