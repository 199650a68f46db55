"""``moegauge coactivation``: seed 004's four tests on a router trace you bring, or capture from a model."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import _common

NAME = "coactivation"


def add_parser(subparsers) -> argparse.ArgumentParser:
    from ..studies.coactivation.analysis import CoactivationConfig

    c = CoactivationConfig()
    p = subparsers.add_parser(
        NAME,
        help="expert co-activation, prefetch, caches vs Belady's MIN and static placement on a router trace",
        description=(
            "Seed 004 end to end on one router trace: Test 1 co-activation Gini, clustering gain and a "
            "marginal-preserving shuffle null; Test 2 next-token prefetch hit rate (LFU vs co-activation); "
            "Test 3 capacity-C expert caches (LRU, LFU-static, co-activation prefetch with its loads counted) "
            "against Belady's offline optimum MIN; Test 4 static placement on D devices (random, "
            "frequency-balanced, co-activation unconstrained and load-capped) with EPLB-format maps. Learns on "
            "the first half of every document and scores on the second. The trace is --trace (a directory in "
            "the moegauge/router_trace format or a .jsonl file: see README, 'Router traces'), or captured "
            "from --model (default: the embedded model) on the corpus's held-out documents, with the "
            "Gaussian trap arm. Writes runs/coactivation/<id>/ (or --out DIR). The main job's stage "
            "(`moegauge run`) also runs seed 000's phase-collapse test, which needs the captured keys."
        ),
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--trace", type=Path, default=None, help="router trace: a trace directory or a .jsonl file")
    src.add_argument("--model", default=None, help="capture from this checkpoint directory or hub name (default: embedded)")
    p.add_argument("--tokens-per-domain", type=_common.positive_int, default=c.tokens_per_domain,
                   help=f"held-out tokens per corpus domain when capturing (default {c.tokens_per_domain})")
    p.add_argument("--shuffles", type=_common.positive_int, default=c.shuffles,
                   help=f"shuffle-null repetitions, at least 20 recommended (default {c.shuffles})")
    p.add_argument("--seed", type=_common.nonnegative_int, default=c.seed, help="seed of shuffles, placements and the trap arm")
    p.add_argument("--save-trace", type=Path, default=None, help="also write the captured trace to this directory")
    p.add_argument("--no-trap", action="store_true", help="skip the Gaussian trap arm (captured traces only)")
    p.add_argument("--out", type=Path, default=None, help="output directory (default runs/coactivation/<id>)")
    p.add_argument("--id", default=None, help="artifact directory name (default: from the trace or model)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _print_summary(res: dict) -> None:
    s = res["structure"]
    print("layer  gini   gain   null   excess")
    for r in s:
        print(f"{r['layer']:>5}  {r['gini']:.3f}  {r['gain']:.3f}  {r['null_mean']:.3f}  {r['excess']:+.3f}")
    won = sum(int(r["coact"] > r["lfu"]) for r in res["prefetch"])
    print(f"prefetch: CO-ACT beats LFU in {won} of {len(res['prefetch'])} (layer, budget) cells")
    for c in res["capacities"]:
        sel = [r for r in res["caches"] if r["capacity"] == c]
        act = sum(r["activations"] for r in sel)
        lru, opt = sum(r["lru"] for r in sel) / act, sum(r["min"] for r in sel) / act
        print(f"cache C={c}: LRU miss rate {lru:.3f}, MIN {opt:.3f}")


def run(args: argparse.Namespace) -> int:
    from ..artifacts import artifact_path, build_artifact, write_artifact
    from ..atomic import atomic_write_text
    from ..errors import InputError
    from ..paths import find_repo_root
    from ..studies.coactivation import report
    from ..studies.coactivation.analysis import CoactivationConfig, analyse
    from ..studies.coactivation.trace import META, TENSORS, load_trace, save_trace

    if args.save_trace is not None and args.trace is not None:
        raise InputError("--save-trace", "only a captured trace can be saved (drop --trace)")
    if args.out is not None:
        _common.check_dir_out(args.out, "--out")
    if args.save_trace is not None:
        _common.check_dir_out(args.save_trace, "--save-trace")
    cfg = CoactivationConfig(tokens_per_domain=args.tokens_per_domain, shuffles=args.shuffles, seed=args.seed)
    root = find_repo_root()
    trap = None
    inputs: list[tuple[Path, str]] = []
    if args.trace is not None:
        trace = load_trace(args.trace)
        tdir = args.trace if args.trace.is_dir() else None
        inputs = [(tdir / META, "router_trace"), (tdir / TENSORS, "router_trace")] if tdir else [(args.trace, "router_trace")]
        ident = args.id or _common.default_id(args.trace.stem if args.trace.suffix else args.trace.name, NAME)
    else:
        from ..lm.corpus import build_corpus
        from ..lm.encoding import encoder_for
        from ..lm.model import load_model
        from ..studies.coactivation.routing import capture_trace, gaussian_trace, select_documents

        from tqdm.auto import tqdm

        lm = load_model(args.model)
        docs = select_documents(build_corpus(), encoder_for(lm.model, lm.local_dir or lm.source), cfg.tokens_per_domain)
        with tqdm(total=sum(m["tokens"] for m, _ in docs), desc="router trace", unit="tok", leave=False,
                  disable=True if args.quiet else None) as bar:
            trace = capture_trace(lm.model, docs, cfg.seq_len, cfg.batch_size, lm.source, progress=bar.update)
        if args.save_trace is not None:
            save_trace(trace, args.save_trace)
            print(args.save_trace)
        if not args.no_trap:
            trap = analyse(gaussian_trace(lm.model, trace, seed=cfg.seed + 7), cfg, tests=("structure",))
        inputs = [(lm.local_dir / n, "model_weights") for n in sorted(lm.weight_sha256)] if lm.local_dir else []
        ident = args.id or _common.default_id(Path(str(lm.source)).name, NAME)
    try:
        res = analyse(trace, cfg)
    except ValueError as exc:
        raise InputError(trace.source, str(exc)) from None
    out_dir = args.out if args.out is not None else _common.runs_dir(NAME) / ident
    config = {"coactivation": cfg.as_dict(), "trace": trace.source, "trace_sha256": trace.sha256(),
              "model": trace.model, "num_experts": trace.num_experts, "top_k": trace.top_k, "layers": trace.layers}
    docs_out: list[tuple[Path, dict]] = []

    def write(artifact_id, *, description, measures, tables, relies_on, inputs=()):
        doc = build_artifact(kind=NAME, artifact_id=artifact_id, description=description, measures=measures,
                             tables=tables, relies_on=relies_on, config=config, seed=cfg.seed,
                             inputs=list(inputs), argv=args.command_line)
        path = artifact_path(NAME, artifact_id, out_dir)
        docs_out.append((path, doc))
        return path

    report.structure_artifact(write, res, trap, cfg.shuffles, inputs=inputs)
    report.prefetch_artifact(write, res, inputs=inputs)
    report.cache_artifact(write, res, inputs=inputs)
    placement_path = report.placement_artifact(write, res, inputs=inputs)
    reported = root / "evidence" / "claims" / "reported.json"
    if reported.is_file():
        report.seed_comparison_artifact(write, res, reported, inputs=inputs)
    # everything is built and validated before anything is written
    out_dir.mkdir(parents=True, exist_ok=True)
    for path, doc in docs_out:
        write_artifact(doc, path)
        print(path)
    prov = next(doc for path, doc in docs_out if path == placement_path)["provenance"]
    import json

    for name, doc in report.eplb_documents(res, trace.layers, trace.num_experts, str(placement_path), prov).items():
        atomic_write_text(out_dir / name, json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"{out_dir}/eplb_*.json (DeepSeek EPLB expert-location maps)")
    _print_summary(res)
    return 0
