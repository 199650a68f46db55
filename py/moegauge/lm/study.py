"""The main job (``python -m moegauge run``): the seeds' §1 table measured on a real MoE.

Stages, each writing evidence artifacts under ``evidence/`` (and intermediate tensors under the
git-ignored ``evidence/captures/``):

1. ``corpus``   — the text the measurements rest on (domains, documents, hashes);
2. ``capture``  — post-RoPE keys (plus pre-norm / pre-RoPE keys, post-RoPE queries and router
   top-k) of calibration and held-out windows, for the trained model and a random-init control;
3. ``beta``     — per layer: β and one-bit cosine of raw keys, centered keys, SRHT-rotated keys, and
   keys under a learned L¹-max rotation without and with DC-mean centering; Δβ (the centering
   lift); the gauge G_ℓ; and the convergence trace of the learned rotations;
4. ``ppl``      — held-out bits/byte and perplexity per domain: full precision, 1-bit K with no
   rotation, SRHT, learned (with / without centering), and one layer at 1 bit at a time;
5. ``memory``   — KV bytes at 8192 tokens from the stored tensors: fp16 K+V vs 1-bit K + fp16 V;
6. ``coactivation`` — seed 004's four tests on a router trace of real held-out text (co-activation
   gain and shuffle null, next-token prefetch, expert caches against Belady's MIN, static
   placement with EPLB maps) and seed 000's phase-collapse test (``moegauge.studies.coactivation``);
   ``gauge`` — seed 000's gauge G per head against the damage of 1-bit quantizing that head alone,
   the scale-invariant alternative κ, and the scale symmetry G does not respect
   (``moegauge.studies.gauge``; the rungs of the ``gauge_g`` and ``gauge_kappa`` ladders);
   ``ffn`` — seed 003 Part E at its checkpoint: expert weights' effective dimension and β-lift,
   the optimiser probe, the 1-bit generation probe, and seed 002 §3's Stiefel frustration
   (``moegauge.studies.ffn``; the ``ffn_rotation``, ``ffn_optimiser_probe``,
   ``ffn_generation_probe`` and ``stiefel_frustration`` ladders);
   ``kvcache`` — every KV cache on the same held-out windows decoded token by token (fp16, HF
   QuantizedCache backends, KIVI-style, QJL-style, ours on packed bits), the packed path's
   equivalence with the dequantize path, and the V-cache ablation (``moegauge.studies.kvcache``);
7. ``summary``  — the paper table assembled from the artifacts above.

A stage whose artifacts exist, validate, and were made with the same configuration, code and
inputs is skipped (``force=True`` reruns it). Every write is atomic, so an interrupted run leaves
each artifact either complete or absent. ``d`` is the dimension rotated: all KV heads of a layer
concatenated (``scope="all_kv_heads"``, the seeds' "OLMoE d = 2048") unless configured otherwise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

from .. import theorems as T
from ..artifacts import ArtifactError, build_artifact, load_artifact, measure, table, write_artifact
from ..errors import InputError
from ..hadamard import srht
from ..moments import beta_moment_ratio, head_moments, one_bit_cosine
from ..provenance import code_sha256, sha256_file
from ..rotation import learn_rotation
from .capture import MANIFEST, capture_to_dir, load_capture
from .corpus import DEFAULT_MAX_BYTES_PER_DOMAIN, Corpus, build_corpus
from .encoding import encoder_for
from .kcache import Fp16Cache, KeyTransform, OneBitKCache
from .model import LoadedModel, cache_kwargs, kv_geometry, load_model, new_model
from .perplexity import LN2, HeldoutScore, score_windows

#: Every stage in run order. Two run only when asked for: ``spread`` (reruns under other kernels,
#: threads and seeds: ~30 min) and ``claims``, which (re)writes ``evidence/claims/measured.json`` —
#: what the repository states, at the precision the spread supports. A default run never rewrites
#: the claims: the audit checks the committed statements against the evidence this run made.
ALL_STAGES = ("corpus", "capture", "beta", "ppl", "memory", "coactivation", "gauge", "ffn", "kvcache", "summary",
              "spread", "claims")
ON_REQUEST = ("spread", "claims")
STAGES = tuple(s for s in ALL_STAGES if s not in ON_REQUEST)  # the default
ARMS = ("trained", "random_init")
CAPTURED = ("k_pre_norm", "k_pre_rope", "k_post_rope", "q_post_rope", "router_topk")


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines the numbers (recorded in every artifact's provenance)."""

    model: str | None = None  # None: the embedded model
    model_dtype: str = "float32"  # the weights' dtype: it changes the numbers (where they sit does not)
    control: bool = True  # also measure a random-init model of the same architecture
    seq_len: int = 256
    calib_windows: int = 16  # per domain: calibration keys for the learned rotations
    heldout_windows: int = 16  # per domain: keys the β table and traces are measured on
    ppl_windows: int = 32  # per domain
    batch_size: int = 8
    rotation_steps: int = 300
    rotation_lr: float = 2e-3
    rotation_batch: int = 4096
    parametrization: str = "cayley"
    scope: str = "all_kv_heads"
    srht_seed: int = 0
    seed: int = 0  # rotation learning (init, minibatches) and which calibration windows
    control_seed: int = 1  # initialisation of the random-init control model (fixed across seeds)
    memory_seq_len: int = 8192
    layer_ablation: bool = True
    max_bytes_per_domain: int = DEFAULT_MAX_BYTES_PER_DOMAIN
    threads: int = 2  # torch intra-op threads: CPU reductions, hence the numbers, depend on it
    coactivation_tokens_per_domain: int = 32768  # router trace: held-out tokens per domain
    coactivation_shuffles: int = 24  # shuffle-null repetitions (Test 1, phase collapse)
    gauge_ppl_windows: int = 8  # per domain: windows scored for each one-head / one-layer 1-bit ablation
    kv_decode_len: int = 384  # kvcache stage: tokens per held-out window decoded one token at a time
    kv_decode_windows: int = 2  # kvcache stage: windows per domain (all decoded together as one batch)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


class Study:
    """Runs the stages for one configuration; artifacts go under ``root/evidence``."""

    def __init__(self, config: RunConfig, root: Path, force: bool = False, log: Callable[[str], None] = print,
                 argv: list[str] | None = None, progress: bool | None = None, evidence_dir: Path | None = None,
                 placement=None):
        self.cfg = config
        self.placement = placement  # moegauge.lm.placement.Placement: devices, not numbers, so not in cfg
        self.root = root
        self.evidence = evidence_dir if evidence_dir is not None else root / "evidence"
        self.captures = self.evidence / "captures"
        self.force = force
        self.log = log
        self.argv = argv
        self.progress = progress
        self._corpus: Corpus | None = None
        self._models: dict[str, LoadedModel | torch.nn.Module] = {}
        self._code = code_sha256()
        torch.set_num_threads(config.threads)

    # -- shared resources -----------------------------------------------------------------------
    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:
            self._corpus = build_corpus(max_bytes_per_domain=self.cfg.max_bytes_per_domain)
        return self._corpus

    def loaded(self) -> LoadedModel:
        if "trained" not in self._models:
            self._models["trained"] = load_model(self.cfg.model, dtype=getattr(torch, self.cfg.model_dtype),
                                                 placement=self.placement)
        return self._models["trained"]

    def model(self, arm: str) -> torch.nn.Module:
        if arm == "trained":
            return self.loaded().model
        if arm not in self._models:
            self._models[arm] = new_model(self.loaded().config, seed=self.cfg.control_seed)
        return self._models[arm]

    def arms(self) -> tuple[str, ...]:
        return ARMS if self.cfg.control else ("trained",)

    @cached_property
    def encoder(self):
        lm = self.loaded()
        return encoder_for(lm.model, lm.local_dir or lm.source)

    def model_identity(self) -> dict:
        lm = self.loaded()
        return {"source": lm.source, "weights_sha256": lm.weight_sha256}

    def _inputs(self) -> list[tuple[Path, str]]:
        lm = self.loaded()
        if lm.local_dir is None:
            return []
        return [(lm.local_dir / name, "model_weights") for name in sorted(lm.weight_sha256)]

    def _bar(self, total: int, desc: str):
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="tok", leave=False,
                    disable=(not self.progress) if self.progress is not None else None)

    # -- freshness ------------------------------------------------------------------------------
    def _stage_config(self, stage: str, arm: str | None = None) -> dict:
        return {"stage": stage, "arm": arm, "run": self.cfg.as_dict(), "model": self.model_identity(),
                "corpus_sha256": self.corpus.sha256}

    def _fresh(self, path: Path, stage_config: dict) -> bool:
        if self.force or not path.is_file():
            return False
        try:
            doc = load_artifact(path)
        except ArtifactError as exc:
            self.log(f"  {path.relative_to(self.root)} is invalid ({exc}); remaking it")
            return False
        prov = doc["provenance"]
        if prov["config"] != json.loads(json.dumps(stage_config)) or prov["code_sha256"] != self._code:
            return False
        for item in prov["inputs"]:
            p = self.root / item["path"]
            if not p.is_file() or sha256_file(p) != item["sha256"]:
                return False
        return True

    def _write(self, kind: str, artifact_id: str, stage_config: dict, *, description: str, measures: dict,
               tables: dict | None = None, relies_on=(), inputs=()) -> Path:
        doc = build_artifact(kind=kind, artifact_id=artifact_id, description=description, measures=measures,
                             tables=tables, relies_on=relies_on, config=stage_config, seed=self.cfg.seed,
                             inputs=[*self._inputs(), *inputs], argv=self.argv, root=self.root)
        path = self.evidence / kind / f"{artifact_id}.json"
        write_artifact(doc, path)
        self.log(f"  wrote {path.relative_to(self.root)}")
        return path

    # -- driver ---------------------------------------------------------------------------------
    def run(self, stages: tuple[str, ...] = STAGES) -> dict[str, float]:
        """Run ``stages`` in order, holding the evidence lock; temporaries that a killed run left
        behind are removed first (we are the only writer while the lock is held)."""
        from ..atomic import remove_stale_temporaries, run_lock

        try:
            with run_lock(self.evidence):
                removed = remove_stale_temporaries(self.evidence, exclusive=True)
                if removed:
                    self.log(f"removed {len(removed)} temporary file(s) left by an interrupted run")
                return self._run(stages)
        except BlockingIOError:
            raise InputError(self.evidence, "another `moegauge run` is writing here; wait for it to finish") from None

    def _run(self, stages: tuple[str, ...]) -> dict[str, float]:
        timings = {}
        for stage in ALL_STAGES:
            if stage not in stages:
                continue
            t0 = time.perf_counter()
            self.log(f"[{stage}]")
            getattr(self, f"stage_{stage}")()
            timings[stage] = time.perf_counter() - t0
            self.log(f"[{stage}] done in {timings[stage]:.1f} s")
        return timings

    # -- 1. corpus ------------------------------------------------------------------------------
    def stage_corpus(self) -> None:
        sc = self._stage_config("corpus")
        path = self.evidence / "corpus" / "corpus.json"
        if self._fresh(path, sc):
            self.log("  up to date")
            return
        manifest = self.corpus.manifest()
        doc_rows = [
            {"domain": d, "document": x["name"], "split": x["split"], "bytes": x["bytes"], "sha256": x["sha256"]}
            for d, m in sorted(manifest["domains"].items()) for x in m["documents"]
        ]
        domain_rows = [{"domain": d, "train_bytes": m["train_bytes"], "heldout_bytes": m["heldout_bytes"],
                        "documents": len(m["documents"])} for d, m in sorted(manifest["domains"].items())]
        self._write(
            "corpus", "corpus", sc,
            description="The real-text byte corpus every measurement here rests on (no proxy inputs).",
            measures={
                "domains": measure("count", len(domain_rows), "text domains present"),
                "train_bytes": measure("bytes", sum(r["train_bytes"] for r in domain_rows), "training bytes"),
                "heldout_bytes": measure("bytes", sum(r["heldout_bytes"] for r in domain_rows), "held-out bytes"),
            },
            tables={
                "domains": table("Bytes and documents per domain.", {
                    "domain": ("label", "domain"), "train_bytes": ("bytes", "training bytes"),
                    "heldout_bytes": ("bytes", "held-out bytes"), "documents": ("count", "documents")}, domain_rows),
                "documents": table("Every document, its split and SHA-256.", {
                    "domain": ("label", "domain"), "document": ("label", "document name"),
                    "split": ("label", "train or heldout"), "bytes": ("bytes", "size"),
                    "sha256": ("label", "SHA-256 of the document's bytes")}, doc_rows),
            },
        )

    # -- 2. capture -----------------------------------------------------------------------------
    def _capture_dir(self, arm: str, split: str) -> Path:
        return self.captures / arm / split

    def _capture_key(self, arm: str, split: str) -> str:
        return _digest({"arm": arm, "split": split, "model": self.model_identity(), "corpus": self.corpus.sha256,
                        "seq_len": self.cfg.seq_len, "seed": self.cfg.seed, "code": self._code,
                        "windows": self.cfg.calib_windows if split == "calibration" else self.cfg.heldout_windows})

    def _split_windows(self, split: str, per_domain: int) -> torch.Tensor:
        """Held-out: the first ``per_domain`` windows of each domain. Calibration: the seed-th block
        of ``per_domain`` training windows, so another seed also calibrates on other text."""
        enc = self.encoder
        parts = []
        for name, dom in sorted(self.corpus.domains.items()):
            if split == "calibration":
                skip = self.cfg.seed * per_domain
                wins = enc.windows(dom.train, self.cfg.seq_len, skip + per_domain).tokens[skip:]
                if wins.shape[0] < per_domain:
                    raise InputError(name, f"too little training text for calibration seed {self.cfg.seed}")
            else:
                wins = enc.windows(dom.heldout, self.cfg.seq_len, per_domain).tokens
            parts.append(wins)
        return torch.cat(parts)

    def stage_capture(self) -> None:
        for arm in self.arms():
            for split, per_domain in (("calibration", self.cfg.calib_windows), ("heldout", self.cfg.heldout_windows)):
                out = self._capture_dir(arm, split)
                key = self._capture_key(arm, split)
                manifest_path = out / MANIFEST
                if not self.force and manifest_path.is_file() and json.loads(manifest_path.read_text()).get("key") == key:
                    self.log(f"  {arm}/{split}: up to date")
                    continue
                wins = self._split_windows(split, per_domain)
                batches = [wins[i : i + self.cfg.batch_size] for i in range(0, wins.shape[0], self.cfg.batch_size)]
                with self._bar(wins.numel(), f"capture {arm}/{split}") as bar:
                    m = capture_to_dir(self.model(arm), batches, out, CAPTURED,
                                       meta={"key": key, "arm": arm, "split": split}, progress=bar.update)
                self.log(f"  {arm}/{split}: {m['tokens']} tokens → {out.relative_to(self.root)}")

    # -- 3. beta --------------------------------------------------------------------------------
    def _keys(self, arm: str, split: str, layer: int, name: str = "k_post_rope") -> torch.Tensor:
        k = load_capture(self._capture_dir(arm, split), name, layer).to(torch.float64)
        return k.reshape(k.shape[0], -1) if self.cfg.scope == "all_kv_heads" else k.reshape(-1, k.shape[-1])

    def _rotations_path(self, arm: str) -> Path:
        """Learned rotations and means: committed evidence (small), an input of every later stage."""
        return self.evidence / "rotations" / f"rotations_{arm}.safetensors"

    def _capture_inputs(self, arm: str) -> list[tuple[Path, str]]:
        """Every file of the arm's captures (manifests and shards): the beta stage's intermediates."""
        out = []
        for split in ("calibration", "heldout"):
            d = self._capture_dir(arm, split)
            manifest = json.loads((d / MANIFEST).read_text())
            out += [(d / MANIFEST, "capture_manifest")] + [(d / sh["file"], "capture") for sh in manifest["shards"]]
        return out

    def stage_beta(self) -> None:
        for arm in self.arms():
            sc = self._stage_config("beta", arm)
            path = self.evidence / "beta" / f"beta_table_{arm}.json"
            conv = self.evidence / "convergence" / f"convergence_{arm}.json"
            if self._fresh(path, sc) and self._fresh(conv, sc) and self._rotations_path(arm).is_file():
                self.log(f"  {arm}: up to date")
                continue
            self._beta_arm(arm, sc)

    def _beta_arm(self, arm: str, sc: dict) -> None:
        from safetensors.torch import save_file

        from ..atomic import atomic_path

        layers, kv_heads, head_dim = kv_geometry(self.model(arm).config)
        cfg = self.cfg
        rows, trace_rows, crossing_rows, rotations = [], [], [], {}
        d = None
        from tqdm.auto import tqdm

        bar = tqdm(total=layers * 2 * (cfg.rotation_steps + 1), desc=f"beta {arm} (rotation steps)", unit="step",
                   leave=False, disable=(not self.progress) if self.progress is not None else None)
        tick = lambda _entry: bar.update(1) and None  # noqa: E731
        for layer in range(layers):
            calib, held = self._keys(arm, "calibration", layer), self._keys(arm, "heldout", layer)
            d = calib.shape[1]
            mu = calib.mean(dim=0)
            pre = self._keys(arm, "heldout", layer, "k_pre_rope")
            variants = {"raw": held, "centered": held - mu, "srht": srht(held, cfg.srht_seed),
                        "srht_centered": srht(held - mu, cfg.srht_seed), "pre_rope": pre}
            learned = {}
            for centering in (False, True):
                label = "learned_centered" if centering else "learned_uncentered"
                t0 = time.perf_counter()
                res = learn_rotation(calib.float(), steps=cfg.rotation_steps, seed=cfg.seed + layer, center=centering,
                                     held_out=held.float(), parametrization=cfg.parametrization, lr=cfg.rotation_lr,
                                     batch_size=cfg.rotation_batch, callback=tick)
                self.log(f"  {arm} layer {layer} {label}: cos {res.trace[0].one_bit_cosine:.4f} → "
                         f"{res.trace[-1].one_bit_cosine:.4f} in {time.perf_counter() - t0:.1f} s")
                learned[label] = res
                variants[label] = res.apply(held)
                rotations[f"layer{layer}.{label}.rotation"] = res.rotation.float().contiguous()
                rotations[f"layer{layer}.{label}.mean"] = res.mean.float().contiguous()
                for e in res.trace:
                    if e.step % 10 == 0 or e.step == len(res.trace) - 1:
                        trace_rows.append({"layer": layer, "variant": label, "step": e.step, "beta": e.beta,
                                           "one_bit_cosine": e.one_bit_cosine})
                for thr, step in sorted(res.first_step_crossing.items()):
                    crossing_rows.append({"layer": layer, "variant": label, "threshold": thr,
                                          "crossed": "yes" if step is not None else "no",
                                          "step": step if step is not None else res.steps})
            row = {"layer": layer}
            for name, y in variants.items():
                row[f"beta_{name}"] = float(beta_moment_ratio(y))
                row[f"cos_{name}"] = float(one_bit_cosine(y).mean())
            row["delta_beta"] = row["beta_learned_centered"] - row["beta_learned_uncentered"]
            row["delta_cos"] = row["cos_learned_centered"] - row["cos_learned_uncentered"]
            per_head = load_capture(self._capture_dir(arm, "heldout"), "k_post_rope", layer)
            row["gauge_g"] = float(head_moments(per_head).gauge)
            row["orthogonality_error"] = max(r.orthogonality_error for r in learned.values())
            rows.append(row)
        bar.close()
        rot_path = self._rotations_path(arm)
        with atomic_path(rot_path) as tmp:
            save_file(rotations, str(tmp))
        self._write_beta(arm, sc, rows, d, trace_rows, crossing_rows)

    def _write_beta(self, arm: str, sc: dict, rows: list[dict], d: int, trace_rows, crossing_rows) -> None:
        intermediates = [*self._capture_inputs(arm), (self._rotations_path(arm), "rotation")]
        variants = {
            "raw": "raw post-RoPE keys", "centered": "keys minus the per-channel calibration mean",
            "srht": "SRHT-rotated raw keys", "srht_centered": "SRHT-rotated centered keys",
            "pre_rope": "raw keys before RoPE (after the k-norm)",
            "learned_uncentered": "learned L¹-max rotation, no centering",
            "learned_centered": "learned L¹-max rotation after per-channel DC-mean centering",
        }
        cols = {"layer": ("index", "decoder layer")}
        for name, what in variants.items():
            cols[f"beta_{name}"] = ("beta", f"β pooled over rotated coordinates: {what}")
            cols[f"cos_{name}"] = ("one_bit_cosine", f"mean one-bit cosine: {what}")
        cols["delta_beta"] = ("beta_difference", "centering lift Δβ = β(learned, centered) − β(learned, uncentered)")
        cols["delta_cos"] = ("one_bit_cosine_difference", "centering lift in one-bit cosine")
        cols["gauge_g"] = ("gauge", "G_ℓ = mean over heads of max(0, κ/σ²) (seed 000)")
        cols["orthogonality_error"] = ("orthogonality_error", "max |RᵀR − I| of the learned rotations")
        n_held = self.cfg.heldout_windows * len(self.corpus.domains) * self.cfg.seq_len
        mean = lambda key: sum(r[key] for r in rows) / len(rows)  # noqa: E731
        measures = {}
        for name, what in variants.items():
            measures[f"beta_{name}"] = measure("beta", mean(f"beta_{name}"), f"mean over layers: {what}",
                                               n=n_held, d=d, dim_meaning=self.cfg.scope)
            measures[f"cos_{name}"] = measure("one_bit_cosine", mean(f"cos_{name}"), f"mean over layers: {what}",
                                              n=n_held, d=d, dim_meaning=self.cfg.scope)
        measures["delta_beta"] = measure("beta_difference", mean("delta_beta"), "mean centering lift Δβ", d=d,
                                         dim_meaning=self.cfg.scope)
        measures["delta_cos"] = measure("one_bit_cosine_difference", mean("delta_cos"),
                                        "mean centering lift in cosine", d=d, dim_meaning=self.cfg.scope)
        measures["gauge_g_max"] = measure("gauge", max(r["gauge_g"] for r in rows), "largest per-layer gauge G_ℓ")
        self._write(
            "beta", f"beta_table_{arm}", sc,
            description=f"β and one-bit cosine per layer of held-out keys ({arm} model): raw, centered, SRHT, learned.",
            measures=measures,
            tables={"layers": table("Per decoder layer, on held-out keys; rotations learned on calibration keys.",
                                    cols, rows)},
            relies_on=[T.MOMENT_RATIO_LE_ONE, T.COS_SIGN_QUANT_FORMULA, T.SRHT_ACHIEVES_ISOTROPIC_FLOOR,
                       T.GAUSSIAN_MOMENT_RATIO_FLOOR_EQ, T.DC_MEAN_DECOMPOSITION_NORM,
                       T.DC_PER_VECTOR_CEILINGS_EQ_ONE],
            inputs=intermediates,
        )
        self._write(
            "convergence", f"convergence_{arm}", sc,
            description=f"Learned-rotation convergence on held-out keys ({arm} model): β and cosine against step.",
            measures={"steps": measure("steps", self.cfg.rotation_steps, "optimiser steps per rotation")},
            tables={
                "trace": table("Every 10th step of each layer's learned rotation.", {
                    "layer": ("index", "decoder layer"), "variant": ("label", "centering"),
                    "step": ("steps", "optimiser step"), "beta": ("beta", "β on held-out keys"),
                    "one_bit_cosine": ("one_bit_cosine", "mean one-bit cosine on held-out keys")}, trace_rows),
                "first_crossing": table("First step whose held-out one-bit cosine reaches each threshold "
                                        "(the seeds quote these thresholds as 'β'; they are cosines in value).", {
                    "layer": ("index", "decoder layer"), "variant": ("label", "centering"),
                    "threshold": ("one_bit_cosine", "threshold"), "crossed": ("label", "reached within the run"),
                    "step": ("steps", "first step at or above (the run length when not reached)")}, crossing_rows),
            },
            relies_on=[T.BETA_LAST_MILE_QUADRATIC_HARDNESS, T.LAST_MILE_CURVATURE_NONNEG, T.COS_SIGN_QUANT_FORMULA],
            inputs=intermediates,
        )

    # -- 4. ppl ---------------------------------------------------------------------------------
    def _transforms(self, arm: str, kind: str) -> list[KeyTransform]:
        from safetensors.torch import load_file

        layers, kv_heads, head_dim = kv_geometry(self.model(arm).config)
        d = kv_heads * head_dim if self.cfg.scope == "all_kv_heads" else head_dim
        if kind == "none":
            return [KeyTransform.identity(d, self.cfg.scope) for _ in range(layers)]
        if kind == "srht":
            return [KeyTransform(mean=torch.zeros(d), srht_seed=self.cfg.srht_seed, scope=self.cfg.scope,
                                 label="srht") for _ in range(layers)]
        tensors = load_file(str(self._rotations_path(arm)))
        return [KeyTransform(mean=tensors[f"layer{i}.{kind}.mean"], rotation=tensors[f"layer{i}.{kind}.rotation"],
                             scope=self.cfg.scope, label=kind) for i in range(layers)]

    def stage_ppl(self) -> None:
        for arm in self.arms():
            sc = self._stage_config("ppl", arm)
            path = self.evidence / "ppl" / f"ppl_table_{arm}.json"
            if self._fresh(path, sc):
                self.log(f"  {arm}: up to date")
                continue
            self._ppl_arm(arm, sc, path)

    def _ppl_arm(self, arm: str, sc: dict, path: Path) -> None:
        model = self.model(arm)
        layers = kv_geometry(model.config)[0]
        enc = self.encoder
        windows = {name: enc.windows(dom.heldout, self.cfg.seq_len, self.cfg.ppl_windows)
                   for name, dom in sorted(self.corpus.domains.items())}
        configs: dict[str, Callable | None] = {"fp": None}
        for kind in ("none", "srht", "learned_uncentered", "learned_centered"):
            configs[f"1bit_{kind}"] = (lambda t: lambda: OneBitKCache(t))(self._transforms(arm, kind))
        ablate = self.cfg.layer_ablation and arm == "trained"
        if ablate:
            t = self._transforms(arm, "learned_centered")
            for layer in range(layers):
                configs[f"1bit_learned_centered_layer{layer}"] = (lambda i: lambda: OneBitKCache(t, {i}))(layer)
        total_tokens = sum(w.tokens.numel() for w in windows.values()) * len(configs)
        rows, summary = [], {}
        with self._bar(total_tokens, f"ppl {arm}") as bar:
            for label, factory in configs.items():
                nll = tokens = 0
                predicted_bytes = 0.0
                for name, w in windows.items():
                    s = score_windows(model, w.tokens, self.cfg.batch_size, factory,
                                      progress=lambda n: bar.update(n * self.cfg.seq_len))
                    # The first token of each window is not predicted; its share of bytes is not counted.
                    share = w.covered_bytes * s.tokens / max(w.tokens.numel(), 1)
                    rows.append(self._ppl_row(label, name, s, share))
                    nll, tokens, predicted_bytes = nll + s.nll, tokens + s.tokens, predicted_bytes + share
                overall = self._ppl_row(label, "all", HeldoutScore(nll, tokens), predicted_bytes)
                rows.append(overall)
                summary[label] = overall
        fp = summary["fp"]
        ablation_rows = [{"layer": i, "bits_per_byte": summary[f"1bit_learned_centered_layer{i}"]["bits_per_byte"],
                          "delta_bits_per_byte": summary[f"1bit_learned_centered_layer{i}"]["bits_per_byte"]
                          - fp["bits_per_byte"]} for i in range(layers)] if ablate else []
        measures = {}
        for label in ("fp", "1bit_none", "1bit_srht", "1bit_learned_uncentered", "1bit_learned_centered"):
            measures[f"ppl_{label}"] = measure("ppl", summary[label]["ppl"], f"per-token perplexity, {label}, all domains")
            measures[f"bpb_{label}"] = measure("bits_per_byte", summary[label]["bits_per_byte"],
                                               f"bits per byte, {label}, all domains")
        measures["ppl_ratio_srht_over_learned"] = measure(
            "ratio", summary["1bit_srht"]["ppl"] / summary["1bit_learned_centered"]["ppl"],
            "PPL(1-bit SRHT) / PPL(1-bit learned, centered)")
        srht_loss = summary["1bit_srht"]["ppl"] - fp["ppl"]
        learned_loss = summary["1bit_learned_centered"]["ppl"] - fp["ppl"]
        if srht_loss > 0 and learned_loss > 0:  # a ratio of degradations only means something when both degrade
            measures["ppl_degradation_ratio_srht_over_learned"] = measure(
                "ratio", srht_loss / learned_loss,
                "(PPL SRHT − PPL fp) / (PPL learned − PPL fp): the degradation ratio")
        measures["max_logit_delta_rotation_only"] = measure(
            "logit_delta", self._rotation_only_delta(arm, model, windows),
            "largest |Δ logit| when keys go through R(k − μ) and back with no quantization (learned, centered)")
        tables = {"ppl": table("Held-out NLL per predicted token, bits per byte and perplexity.", {
            "config": ("label", "cache configuration"), "domain": ("label", "domain ('all' = pooled)"),
            "nll": ("nll", "mean NLL per predicted token (nats)"),
            "bits_per_byte": ("bits_per_byte", "NLL in bits over the bytes of the predicted tokens"),
            "ppl": ("ppl", "per-token perplexity"), "tokens": ("count", "predicted tokens"),
            "predicted_bytes": ("bytes", "bytes of text the predicted tokens cover")}, rows)}
        if ablation_rows:
            tables["layer_ablation"] = table("One layer at a time at 1 bit (learned, centered); the rest full precision.", {
                "layer": ("index", "layer quantized"), "bits_per_byte": ("bits_per_byte", "all domains"),
                "delta_bits_per_byte": ("bits_per_byte", "increase over full precision")}, ablation_rows)
        self._write("ppl", path.stem, sc,
                    description=f"Held-out perplexity with a 1-bit K cache ({arm} model), per domain.",
                    measures=measures, tables=tables,
                    relies_on=[T.ATTENTION_SCORE_GAUGE_INVARIANCE, T.ROPE_FOLD_EXACT_IFF_COMMUTE,
                               T.ONE_BIT_SCALE_OPTIMAL, T.COS_SIGN_QUANT_FORMULA],
                    inputs=[(self._rotations_path(arm), "rotation")])

    def _rotation_only_delta(self, arm: str, model, windows: dict) -> float:
        """Gauge check on the real model: the learned rotation alone must not move the logits."""
        transforms = self._transforms(arm, "learned_centered")
        worst = 0.0
        with torch.no_grad():
            for w in windows.values():
                batch = w.tokens[: self.cfg.batch_size]
                ref = model(input_ids=batch, use_cache=False).logits
                cache = OneBitKCache(transforms, quantize_keys=False, value_dtype=torch.float32)
                rot = model(input_ids=batch, **cache_kwargs(model, cache)).logits
                worst = max(worst, float((rot - ref).abs().max()))
        return worst

    @staticmethod
    def _ppl_row(label: str, domain: str, s: HeldoutScore, predicted_bytes: float) -> dict:
        return {"config": label, "domain": domain, "nll": s.nll_per_token, "ppl": s.ppl, "tokens": s.tokens,
                "bits_per_byte": s.nll / LN2 / max(predicted_bytes, 1.0), "predicted_bytes": round(predicted_bytes)}

    # -- 5. memory ------------------------------------------------------------------------------
    def stage_memory(self) -> None:
        sc = self._stage_config("memory")
        path = self.evidence / "memory" / "memory_budget.json"
        if self._fresh(path, sc):
            self.log("  up to date")
            return
        model = self.model("trained")
        layers = kv_geometry(model.config)[0]
        text = b"\n".join(dom.heldout + dom.train for _, dom in sorted(self.corpus.domains.items()))
        w = self.encoder.windows(text, self.cfg.memory_seq_len, 1)
        if w.tokens.shape[0] == 0:
            raise RuntimeError(f"the corpus has fewer than {self.cfg.memory_seq_len} tokens")
        caches = {"fp16": Fp16Cache(layers), "1bit_learned_centered": OneBitKCache(self._transforms("trained", "learned_centered")),
                  "1bit_srht": OneBitKCache(self._transforms("trained", "srht"))}
        parts = {}
        with torch.no_grad():
            for label, cache in caches.items():
                model(input_ids=w.tokens, **cache_kwargs(model, cache), logits_to_keep=1)
                parts[label] = cache.stored_nbytes()
        fp16 = sum(parts["fp16"].values())
        rows = [{"cache": label, "part": part, "bytes": n} for label, p in parts.items() for part, n in sorted(p.items())]
        learned = sum(parts["1bit_learned_centered"].values())
        srht_total = sum(parts["1bit_srht"].values())
        k_fp16 = parts["fp16"]["keys"]
        k_1bit = parts["1bit_learned_centered"]["key_bits"] + parts["1bit_learned_centered"]["key_scales"]
        self._write(
            "memory", "memory_budget", sc,
            description=f"KV-cache bytes held after {self.cfg.memory_seq_len} tokens, read from the stored tensors.",
            measures={
                "seq_len": measure("count", self.cfg.memory_seq_len, "tokens in the cache"),
                "kv_bytes_fp16": measure("bytes", fp16, "fp16 K + fp16 V"),
                "kv_bytes_1bit_learned": measure("bytes", learned, "1-bit K + fp16 scale + fp16 V + mean and rotation"),
                "kv_bytes_1bit_srht": measure("bytes", srht_total, "1-bit K + fp16 scale + fp16 V + SRHT seed"),
                "kv_ratio_learned": measure("ratio", fp16 / learned, "fp16 KV bytes / 1-bit-K KV bytes (learned)"),
                "kv_ratio_srht": measure("ratio", fp16 / srht_total, "fp16 KV bytes / 1-bit-K KV bytes (SRHT)"),
                "k_ratio": measure("ratio", k_fp16 / k_1bit, "fp16 K bytes / (sign bits + scales)"),
                "metadata_fraction": measure("fraction", parts["1bit_learned_centered"]["metadata"] / learned,
                                             "share of the 1-bit cache taken by means and rotations"),
            },
            tables={"parts": table("Stored bytes per cache and part.", {
                "cache": ("label", "cache"), "part": ("label", "stored tensor group"), "bytes": ("bytes", "bytes")}, rows)},
            relies_on=[T.ONE_BIT_SCALE_OPTIMAL],
            inputs=[(self._rotations_path("trained"), "rotation")],
        )

    # -- 6. co-activation (seed 004) and phase collapse (seed 000) --------------------------------
    def stage_coactivation(self) -> None:
        from ..studies.coactivation.stage import run_stage

        run_stage(self)

    # -- 6b. seed 000's gauge G as a predictor (the gauge ladders' rungs) -------------------------
    def stage_gauge(self) -> None:
        from ..studies.gauge.stage import run_stage

        run_stage(self)

    # -- 6c. seed 003 Part E at its checkpoint (the ffn_rotation ladder's rungs) ------------------
    def stage_ffn(self) -> None:
        from ..studies.ffn.stage import run_stage

        run_stage(self)

    # -- 6d. the KV cache as a decode path: peers side by side, the V ablation (issue 13) ----------
    def stage_kvcache(self) -> None:
        from ..studies.kvcache.stage import run_stage

        run_stage(self)

    # -- 7. summary -----------------------------------------------------------------------------
    def stage_summary(self) -> None:
        sc = self._stage_config("summary")
        path = self.evidence / "summary" / "paper_table.json"
        sources = [self.evidence / "memory" / "memory_budget.json", self.evidence / "kvcache" / "kv_methods.json",
                   self.evidence / "kvcache" / "v_ablation.json"]
        for arm in self.arms():
            sources += [self.evidence / "beta" / f"beta_table_{arm}.json", self.evidence / "ppl" / f"ppl_table_{arm}.json"]
        if self._fresh(path, sc):
            self.log("  up to date")
            return
        rows = []
        for arm in self.arms():
            beta = load_artifact(self.evidence / "beta" / f"beta_table_{arm}.json")["measures"]
            ppl = load_artifact(self.evidence / "ppl" / f"ppl_table_{arm}.json")["measures"]
            rows.append({
                "model": arm,
                "beta_raw": beta["beta_raw"]["value"], "beta_centered": beta["beta_centered"]["value"],
                "beta_srht": beta["beta_srht"]["value"], "beta_learned": beta["beta_learned_centered"]["value"],
                "delta_beta": beta["delta_beta"]["value"],
                "cos_srht": beta["cos_srht"]["value"], "cos_learned": beta["cos_learned_centered"]["value"],
                "ppl_fp": ppl["ppl_fp"]["value"], "ppl_1bit_srht": ppl["ppl_1bit_srht"]["value"],
                "ppl_1bit_learned": ppl["ppl_1bit_learned_centered"]["value"],
                "bpb_fp": ppl["bpb_fp"]["value"], "bpb_1bit_srht": ppl["bpb_1bit_srht"]["value"],
                "bpb_1bit_learned": ppl["bpb_1bit_learned_centered"]["value"],
            })
        mem = load_artifact(self.evidence / "memory" / "memory_budget.json")["measures"]
        cols = {"model": ("label", "trained model or random-init control")}
        for key, q, what in (("beta_raw", "beta", "β raw"), ("beta_centered", "beta", "β centered"),
                             ("beta_srht", "beta", "β SRHT"), ("beta_learned", "beta", "β learned + centered"),
                             ("delta_beta", "beta_difference", "Δβ centering lift"), ("cos_srht", "one_bit_cosine", "cosine SRHT"),
                             ("cos_learned", "one_bit_cosine", "cosine learned + centered"),
                             ("ppl_fp", "ppl", "PPL full precision"), ("ppl_1bit_srht", "ppl", "PPL 1-bit K, SRHT"),
                             ("ppl_1bit_learned", "ppl", "PPL 1-bit K, learned + centered"),
                             ("bpb_fp", "bits_per_byte", "bits/byte full precision"),
                             ("bpb_1bit_srht", "bits_per_byte", "bits/byte 1-bit SRHT"),
                             ("bpb_1bit_learned", "bits_per_byte", "bits/byte 1-bit learned")):
            cols[key] = (q, what)
        kv = load_artifact(self.evidence / "kvcache" / "kv_methods.json")
        kv_rows = [{k: r[k] for k in ("method", "family", "k_bits", "v_bits", "kv_ratio", "bpb_all")}
                   for r in kv["tables"]["methods"]["rows"]]
        vab = load_artifact(self.evidence / "kvcache" / "v_ablation.json")
        v_rows = [{k: r[k] for k in ("config", "k_bits", "v_bits", "kv_ratio", "bpb_all")}
                  for r in vab["tables"]["configs"]["rows"]]
        self._write(
            "summary", "paper_table", sc,
            description="The seeds' §1 table measured here: β raw / centered / SRHT / learned, Δβ, PPL fp / 1-bit.",
            measures={"kv_ratio_8192": measure("ratio", mem["kv_ratio_learned"]["value"],
                                               "KV memory fp16 / 1-bit K (learned) at 8192 tokens")},
            tables={"models": table("One row per model arm (means over layers; PPL pooled over domains).", cols, rows),
                    "kv_methods": table("Every KV cache on the same held-out windows, decoded token by token "
                                        "(evidence/kvcache/kv_methods.json).", {
                        "method": ("label", "cache"), "family": ("label", "ours, peer or baseline"),
                        "k_bits": ("bits_per_element", "K bits per element (stored tensors)"),
                        "v_bits": ("bits_per_element", "V bits per element (stored tensors)"),
                        "kv_ratio": ("ratio", "fp16 KV bytes / its KV bytes"),
                        "bpb_all": ("bits_per_byte", "held-out bits/byte, all domains")}, kv_rows),
                    "v_ablation": table("The V-cache ablation, seed 001 §S8 (evidence/kvcache/v_ablation.json).", {
                        "config": ("label", "K and V storage"),
                        "k_bits": ("bits_per_element", "K bits per element"),
                        "v_bits": ("bits_per_element", "V bits per element"),
                        "kv_ratio": ("ratio", "fp16 KV bytes / its KV bytes"),
                        "bpb_all": ("bits_per_byte", "held-out bits/byte, all domains")}, v_rows)},
            relies_on=[T.MOMENT_RATIO_LE_ONE, T.COS_SIGN_QUANT_FORMULA, T.SRHT_ACHIEVES_ISOTROPIC_FLOOR,
                       T.ATTENTION_SCORE_GAUGE_INVARIANCE],
            inputs=[(p, "artifact") for p in sources],
        )

    # -- 8. spread (on request) ------------------------------------------------------------------
    def stage_spread(self) -> None:
        from .spread import VARIANTS, compared_paths, run_variant, spread_rows

        # The reruns measure the trained arm only (the control arm would double the ~30 minutes);
        # claims about the control are stated without a spread.
        arms = ("trained",)
        sc = {**self._stage_config("spread"), "variants": [dataclasses.asdict(v) for v in VARIANTS], "arms": arms}
        path = self.evidence / "spread" / "spread.json"
        mains = [self.evidence / rel for rel in compared_paths(arms)]
        if self._fresh(path, sc):
            self.log("  up to date")
            return
        dirs, rows_env, seconds = {}, [], {}
        for v in VARIANTS:
            d = self.evidence / "spread" / "runs" / v.name
            self.log(f"  variant {v.name}: {v.what}")
            seconds[v.name] = run_variant({**self.cfg.as_dict(), "control": False}, d, v, self.log)
            dirs[v.name] = d
            prov = load_artifact(d / "beta" / "beta_table_trained.json")["provenance"]
            rows_env.append({"variant": v.name, "what": v.what, "cpu_capability": prov["compute"]["cpu_capability"],
                             "threads": prov["compute"]["threads"], "seed": prov["seed"],
                             "seconds": seconds[v.name]})
        by_q = spread_rows(self.evidence, dirs, arms)
        tables = {"variants": table("The reruns compared with the main run.", {
            "variant": ("label", "variant"), "what": ("label", "what differs from the main run"),
            "cpu_capability": ("label", "CPU kernel level torch used"), "threads": ("count", "torch threads"),
            "seed": ("count", "seed"), "seconds": ("seconds", "wall time of the rerun")}, rows_env)}
        for q, rows in sorted(by_q.items()):
            cols = {"artifact": ("label", "main-run artifact"), "pointer": ("label", "JSON pointer of the field"),
                    "main": (q, "main run's value")}
            cols.update({v.name: (q, f"value in variant {v.name}") for v in VARIANTS})
            cols["max_abs_deviation"] = ("run_to_run_spread", "largest |variant − main| (unit of the field)")
            tables[f"fields_{q}"] = table(f"Every {q} field of the main artifacts across the reruns.", cols, rows)
        n_fields = sum(len(r) for r in by_q.values())
        self._write(
            "spread", "spread", sc,
            description="Run-to-run spread of every measured field: reruns with other seeds, one thread, AVX2 kernels.",
            measures={"fields": measure("count", n_fields, "numeric fields compared"),
                      "variants": measure("count", len(VARIANTS), "reruns compared with the main run")},
            tables=tables, inputs=[(p, "artifact") for p in mains],
        )

    # -- 9. claims ------------------------------------------------------------------------------
    def stage_claims(self) -> None:
        from .measured_claims import write_measured_claims

        if self.evidence != self.root / "evidence":
            return  # claims are stated about the repository's own evidence only
        out = write_measured_claims(self.root, self.evidence)
        self.log(f"  wrote {out.relative_to(self.root)}")
