"""The quantity vocabulary: every number in an artifact says which of these it is.

Units matter in this field (β vs its cosine form √β), so a number is never "just a float". The JSON
Schema (``schemas/artifact.v1.schema.json``) enumerates the same names; a test keeps the two equal.
The auditor adds admissible ranges per quantity later.
"""

from __future__ import annotations

QUANTITIES: dict[str, str] = {
    "beta": "moment ratio (E|x|)^2 / E[x^2], in (0, 1]; Gaussian 2/pi",
    "one_bit_cosine": "||x||_1 / (sqrt(d) ||x||_2), the cosine between x and sign(x); about sqrt(beta)",
    "residual_energy": "relative residual energy of the best 1-bit reconstruction, 1 - cosine^2",
    "ppl": "perplexity, exp of the mean token negative log-likelihood",
    "bits_per_byte": "negative log-likelihood in bits per byte of text",
    "nll": "negative log-likelihood in nats",
    "ratio": "dimensionless ratio of two like quantities",
    "bytes": "storage size in bytes, counted from stored tensors",
    "bits_per_element": "stored bits per cached K (or V) element, 8 x bytes / elements, counted from stored tensors",
    "fraction": "dimensionless fraction in [0, 1]",
    "count": "number of items (non-negative integer)",
    "steps": "number of optimisation steps",
    "devices_per_token": "distinct devices a token's experts live on",
    "load_cv": "coefficient of variation of per-device load",
    "seconds": "wall-clock time in seconds",
    "orthogonality_error": "max |R^T R - I| entry, computed in float64",
    "variance": "second central moment",
    "excess_kurtosis": "fourth standardised central moment minus 3",
    "gauge": "gauge G = mean over heads of max(0, excess_kurtosis / variance) (seed 000 heuristic)",
    "dimension": "a vector dimension d (say which: head_dim or all_kv_heads)",
    "index": "an integer position (layer, head, step, ...)",
    "beta_difference": "a difference of two beta values (e.g. the centering lift); any sign, in [-1, 1]",
    "one_bit_cosine_difference": "a difference of two one-bit cosines; any sign, in [-1, 1]",
    "fraction_difference": "a difference of two fractions (e.g. of two hit rates); any sign, in [-1, 1]",
    "ratio_difference": "a difference of two ratios of like quantities (e.g. an excess over a null); any sign",
    "relative_change": "new / old - 1 of a positive quantity (>= -1)",
    "logit_delta": "largest absolute change of a logit between two runs",
    "run_to_run_spread": "largest |rerun - main| of a measured field over other CPU kernels, threads and seeds (its unit)",
    "label": "a string label (table columns only)",
}
