"""Seed 000's phase-collapse thesis, made falsifiable: do keys carry the routing, and do 1-bit keys?

Labels: the attention at layer ℓ sees a residual shaped by the routing below ℓ, so a token's label
at layer ℓ ≥ 1 is its top-1 expert at layer ℓ − 1 (layer 0 has no routing below it and is left out).

* **η²** (per layer and head): the fraction of key variance between label groups,
  ``Σ_g n_g ‖μ_g − μ‖² / Σ_i ‖k_i − μ‖²``, against a label-shuffle null (the same labels permuted
  over tokens: η² of groups that carry no information, ≈ (G − 1)/(n − 1)).
* **Decodability**: two classifiers fit on calibration tokens and scored on held-out tokens, from
  K, sign(K), sign(SRHT·K) and sign(R·K) with the learned rotation (and sign(R·(K − μ)) with the
  centered one), all on standardised coordinates: multinomial logistic regression (the primary
  decoder: the strongest linear read-out of the bits) and nearest centroid (a weak decoder, shown
  because the verdict can depend on the decoder). Chance is measured, not assumed: the same
  classifier fit on shuffled labels. ``retained = (acc(sign) − acc(null)) / (acc(K) − acc(null))`` is the share of the
  float keys' decodable routing signal that the signs keep.

Verdict rules (applied to the numbers by :func:`verdicts`, thresholds fixed here, before the run):

* *phase collapse present* iff η² exceeds every shuffle's η² in at least half of the (layer, head)
  cells **and** the median cell's η² is at least twice its null mean;
* *"1-bit destroys the routing signal" falsified here* iff sign(R·K) retains at least half of the
  float decodability in every layer ℓ ≥ 1; *supported* iff it retains under 10% in every layer;
  otherwise mixed.
"""

from __future__ import annotations

import numpy as np

ETA_PRESENT_FRACTION = 0.5
ETA_NULL_MULTIPLE = 2.0
RETAIN_FALSIFIED = 0.5
RETAIN_SUPPORTED = 0.1


def eta_squared(x: np.ndarray, labels: np.ndarray) -> float:
    """Between-group share of the total variance of the rows of ``x`` [n, d]."""
    x = np.asarray(x, dtype=np.float64)
    mu = x.mean(0)
    total = float(((x - mu) ** 2).sum())
    if total == 0:
        return 0.0
    uniq, inv, counts = np.unique(labels, return_inverse=True, return_counts=True)
    sums = np.zeros((uniq.size, x.shape[1]))
    np.add.at(sums, inv, x)
    means = sums / counts[:, None]
    between = float((counts[:, None] * (means - mu) ** 2).sum())
    return between / total


def nearest_centroid_accuracy(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, y_test: np.ndarray) -> float:
    """Accuracy of assigning each test row the label of the nearest fit-set class mean, Euclidean
    after standardising every coordinate by the fit set's mean and std (so a few large-magnitude
    coordinates cannot drown the rest; a constant coordinate is left unscaled)."""
    x_fit = np.asarray(x_fit, dtype=np.float64)
    mu, sd = x_fit.mean(0), x_fit.std(0)
    sd[sd == 0] = 1.0
    x_fit = (x_fit - mu) / sd
    x_test = (np.asarray(x_test, dtype=np.float64) - mu) / sd
    uniq, inv = np.unique(y_fit, return_inverse=True)
    sums = np.zeros((uniq.size, x_fit.shape[1]))
    np.add.at(sums, inv, x_fit)
    cent = sums / np.bincount(inv)[:, None]
    d2 = (cent**2).sum(1)[None, :] - 2.0 * x_test @ cent.T  # ‖x‖² is the same for every class
    pred = uniq[np.argmin(d2, axis=1)]
    return float((pred == y_test).mean())


def logistic_accuracy(x_fit: np.ndarray, y_fit: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                      iters: int = 100, l2: float = 1e-3) -> float:
    """Held-out accuracy of multinomial logistic regression (standardised inputs, L2 penalty
    ``l2·‖W‖²``, full-batch L-BFGS from zero: deterministic)."""
    import torch

    xf = torch.as_tensor(np.asarray(x_fit), dtype=torch.float32)
    xt = torch.as_tensor(np.asarray(x_test), dtype=torch.float32)
    mu, sd = xf.mean(0), xf.std(0)
    sd[sd == 0] = 1.0
    xf, xt = (xf - mu) / sd, (xt - mu) / sd
    classes, yi = np.unique(y_fit, return_inverse=True)
    target = torch.as_tensor(yi, dtype=torch.int64)
    w = torch.zeros(xf.shape[1], classes.size, requires_grad=True)
    b = torch.zeros(classes.size, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=iters, line_search_fn="strong_wolfe", history_size=20)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xf @ w + b, target) + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        pred = classes[(xt @ w + b).argmax(1).numpy()]
    return float((pred == np.asarray(y_test)).mean())


def verdicts(eta_cells: list[dict], decode_rows: list[dict]) -> dict:
    """Apply the module's verdict rules; returns booleans, the statistics they used and a sentence."""
    above = np.array([c["eta2"] > c["null_max"] for c in eta_cells])
    ratio = np.array([c["eta2"] / c["null_mean"] if c["null_mean"] > 0 else np.inf for c in eta_cells])
    frac_above = float(above.mean())
    median_ratio = float(np.median(ratio))
    present = frac_above >= ETA_PRESENT_FRACTION and median_ratio >= ETA_NULL_MULTIPLE
    retained = np.array([r["retained_learned"] for r in decode_rows])
    if (retained >= RETAIN_FALSIFIED).all():
        one_bit = "falsified"
    elif (retained < RETAIN_SUPPORTED).all():
        one_bit = "supported"
    else:
        one_bit = "mixed"
    collapse = ("present: keys cluster by the routing below them" if present
                else "absent: keys do not cluster by the routing below them beyond the shuffle null")
    words = {"falsified": "falsified here: sign(R·K) keeps at least half of the decodable routing signal in every layer",
             "supported": "supported here: sign(R·K) keeps under a tenth of the decodable routing signal in every layer",
             "mixed": "mixed: sign(R·K) keeps between a tenth and a half of the decodable routing signal in some layer"}
    return {"phase_collapse_present": present, "fraction_cells_above_null": frac_above,
            "median_eta2_over_null": median_ratio, "one_bit_destroys_routing": one_bit,
            "min_retained_learned": float(retained.min()), "max_retained_learned": float(retained.max()),
            "sentence": f"Phase collapse is {collapse}; \"1-bit destroys the routing signal\" is {words[one_bit]}."}
