"""Test 4 — static expert placement for expert-parallel inference, and its EPLB-format export.

Every placement puts exactly N/D experts on each of D devices (learned on the learn half):

* ``random``: a seeded permutation, in blocks;
* ``frequency_balanced``: the standard load-balancing assignment — experts in decreasing learn-half
  frequency, each to the least-loaded device that still has a free slot (greedy LPT);
* ``coact_unconstrained``: :func:`structure.equal_size_groups` with D groups on the co-activation
  affinity (no load constraint);
* ``coact_load_capped``: co-activation agglomeration where no device may exceed the largest device
  load of ``frequency_balanced`` (balance matched by construction, not tuned after the fact): the
  better, by learn-half within-device affinity, of (a) ``frequency_balanced`` refined by
  cap-respecting swaps and (b) the capped greedy growth plus swaps, when (b) meets the cap.

Scores on the eval half: mean distinct devices per token (all-to-all fan-out; ≤ min(k, D),
``MoEGauge.distinct_devices_le_min``) and load CV (population std / mean of per-device activation
counts). The cut of a placement is ``devices/token ÷ devices/token(frequency_balanced) − 1``.

Export (:func:`eplb_maps`): DeepSeek EPLB's ``phy2log`` [layers, P], ``log2phy`` [layers, N, R] and
``logcnt`` [layers, N], where device d holds physical slots d·P/D … (d+1)·P/D − 1. No expert is
replicated here (P = N, R = 1, every ``logcnt`` 1), so an engine that loads an EPLB
expert-location map can take it as it is.
"""

from __future__ import annotations

import numpy as np

from ...expertcache import distinct_devices_per_token
from .structure import affinity, coactivation_counts, equal_size_groups, refine_by_swaps, within_group

PLACEMENTS = ("random", "frequency_balanced", "coact_unconstrained", "coact_load_capped")


def _check(n: int, devices: int) -> None:
    if devices < 1 or n % devices:
        raise ValueError(f"{n} experts cannot be split evenly over {devices} devices")


def random_placement(n: int, devices: int, rng: np.random.Generator) -> np.ndarray:
    _check(n, devices)
    out = np.empty(n, dtype=np.int64)
    out[rng.permutation(n)] = np.arange(n) // (n // devices)
    return out


def frequency_balanced(freq: np.ndarray, devices: int) -> np.ndarray:
    n = freq.shape[0]
    _check(n, devices)
    slots = n // devices
    load = np.zeros(devices)
    count = np.zeros(devices, dtype=np.int64)
    out = np.empty(n, dtype=np.int64)
    for e in np.argsort(-freq, kind="stable"):
        open_ = np.flatnonzero(count < slots)
        d = int(open_[np.argmin(load[open_])])
        out[e] = d
        load[d] += freq[e]
        count[d] += 1
    return out


def coact_placement(a_learn: np.ndarray, devices: int, cap: float | None = None,
                    start: np.ndarray | None = None) -> np.ndarray:
    """Unconstrained (``cap`` None) or load-capped co-activation placement (module docstring)."""
    n = a_learn.shape[1]
    _check(n, devices)
    c = coactivation_counts(a_learn)
    freq = np.diag(c)
    aff = affinity(c, a_learn.shape[0])
    grown = equal_size_groups(aff, devices, np.argsort(-freq, kind="stable"), load=freq, cap=cap)
    if cap is None:
        return grown
    candidates = [refine_by_swaps(aff, start if start is not None else frequency_balanced(freq, devices),
                                  load=freq, cap=cap)]
    if np.bincount(grown, weights=freq, minlength=devices).max() <= cap + 1e-9:
        candidates.append(grown)
    return max(candidates, key=lambda lab: within_group(aff, lab))


def device_loads(topk: np.ndarray, placement: np.ndarray, devices: int) -> np.ndarray:
    return np.bincount(placement[topk.astype(np.int64)].ravel(), minlength=devices).astype(np.float64)


def load_cv(loads: np.ndarray) -> float:
    return float(loads.std() / loads.mean()) if loads.mean() > 0 else 0.0


def placements(a_learn: np.ndarray, devices: int, seed: int) -> dict[str, np.ndarray]:
    """The four placements of one layer for ``devices`` devices."""
    freq = a_learn.sum(0).astype(np.float64)
    fb = frequency_balanced(freq, devices)
    cap = float(np.bincount(fb, weights=freq, minlength=devices).max())
    return {"random": random_placement(a_learn.shape[1], devices, np.random.default_rng(seed)),
            "frequency_balanced": fb,
            "coact_unconstrained": coact_placement(a_learn, devices),
            "coact_load_capped": coact_placement(a_learn, devices, cap=cap, start=fb)}


def score(topk_eval: np.ndarray, placement: np.ndarray, devices: int) -> dict[str, float]:
    return {"devices_per_token": float(distinct_devices_per_token(topk_eval, placement).mean()),
            "load_cv": load_cv(device_loads(topk_eval, placement, devices))}


def eplb_maps(placement_per_layer: list[np.ndarray], devices: int) -> dict[str, list]:
    """phy2log / log2phy / logcnt for one placement per layer (see the module docstring)."""
    phy2log, log2phy, logcnt = [], [], []
    for pl in placement_per_layer:
        n = pl.shape[0]
        _check(n, devices)
        order = np.lexsort((np.arange(n), pl))  # by device, then expert id
        p2l = order.astype(np.int64)
        l2p = np.empty(n, dtype=np.int64)
        l2p[p2l] = np.arange(n)
        phy2log.append(p2l.tolist())
        log2phy.append([[int(x)] for x in l2p])
        logcnt.append([1] * n)
    return {"phy2log": phy2log, "log2phy": log2phy, "logcnt": logcnt}


def placement_from_phy2log(phy2log: list[list[int]], devices: int) -> list[np.ndarray]:
    """Inverse of :func:`eplb_maps` (device of each logical expert, per layer)."""
    out = []
    for row in phy2log:
        p = len(row)
        dev = np.empty(p, dtype=np.int64)
        dev[np.asarray(row)] = np.arange(p) // (p // devices)
        out.append(dev)
    return out
