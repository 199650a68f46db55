"""Router traces: each token's top-k experts at every MoE layer, in a documented on-disk format.

Native format ``moegauge/router_trace`` v1 — a directory holding

* ``trace.json``: ``{"schema": "moegauge/router_trace", "schema_version": 1, "model": str,
  "num_experts": N, "top_k": k, "layers": [model layer index, ...], "tokens": T,
  "documents": [{"domain": str, "name": str, "tokens": n}, ...], "router_input_rms": [float per
  layer] (optional), "files": {"trace.safetensors": sha256}}`` (JSON Schema:
  ``moegauge/schemas/router_trace.v1.schema.json``);
* ``trace.safetensors``: ``topk`` int16 ``[layers, T, k]`` (expert ids, best router score first),
  ``document`` int32 ``[T]`` (index into ``documents``) and ``position`` int32 ``[T]`` (the token's
  position in its document). Tokens of a document are consecutive and in order.

The honest split: a token is in the *learn* half when ``position < tokens // 2`` of its document,
else in the *eval* half. Everything a study learns (frequencies, co-activation, groups,
placements) comes from the learn half; every score is measured on the eval half.

Interchange format (bring traces from any model): JSON Lines. Line 1 is a header
``{"schema": "moegauge/router_trace_jsonl", "num_experts": N, "layers": [..], "model": str}``;
every further line is one token, ``{"document": "name", "experts": [[k ids of layer 0], ...]}``,
tokens of a document consecutive and in order (an optional ``"domain"`` is kept). Errors name
the file, the line and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...atomic import atomic_path, atomic_write_text
from ...errors import InputError

SCHEMA = "moegauge/router_trace"
JSONL_SCHEMA = "moegauge/router_trace_jsonl"
SCHEMA_VERSION = 1
META = "trace.json"
TENSORS = "trace.safetensors"


@dataclass
class RouterTrace:
    """Top-k expert ids ``topk`` [layers, T, k] of T tokens, with their documents and positions."""

    topk: np.ndarray
    document: np.ndarray
    position: np.ndarray
    documents: list[dict]
    num_experts: int
    layers: list[int]
    model: str = ""
    router_input_rms: list[float] | None = None
    source: str = "<memory>"
    _halves: tuple | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        check_trace(self)

    @property
    def top_k(self) -> int:
        return int(self.topk.shape[2])

    @property
    def tokens(self) -> int:
        return int(self.topk.shape[1])

    def learn_mask(self) -> np.ndarray:
        """True for tokens in the first half of their document (see the module docstring)."""
        sizes = np.array([d["tokens"] for d in self.documents], dtype=np.int64)
        return self.position < (sizes // 2)[self.document]

    def halves(self) -> tuple[np.ndarray, np.ndarray]:
        """(learn, eval) token indices, each in trace order."""
        if self._halves is None:
            m = self.learn_mask()
            self._halves = (np.flatnonzero(m), np.flatnonzero(~m))
        return self._halves

    def successor_pairs(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (previous, next) of consecutive tokens of one document, both in ``idx``."""
        prev, nxt = idx[:-1], idx[1:]
        ok = (nxt == prev + 1) & (self.document[prev] == self.document[nxt])
        return prev[ok], nxt[ok]

    def sha256(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for a in (self.topk, self.document, self.position):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(json.dumps([self.documents, self.num_experts, self.layers], sort_keys=True).encode())
        return h.hexdigest()


def check_trace(t: RouterTrace) -> None:
    """Raise :class:`InputError` naming the source and the first bad position."""
    src = t.source
    if t.topk.ndim != 3:
        raise InputError(src, f"topk must be [layers, tokens, k], got shape {list(t.topk.shape)}")
    if not np.issubdtype(t.topk.dtype, np.integer):
        if np.issubdtype(t.topk.dtype, np.floating):
            bad = np.argwhere(~np.isfinite(t.topk))
            if bad.size:
                layer, tok, slot = (int(x) for x in bad[0])
                raise InputError(src, f"topk[{layer}, {tok}, {slot}] (layer {layer}, token {tok}) is not finite")
        raise InputError(src, f"topk must hold integer expert ids, got dtype {t.topk.dtype}")
    n_layers, n_tok, k = t.topk.shape
    if n_tok == 0 or n_layers == 0 or k == 0:
        raise InputError(src, f"empty trace (layers {n_layers}, tokens {n_tok}, k {k})")
    if len(t.layers) != n_layers:
        raise InputError(src, f"'layers' names {len(t.layers)} layers, topk holds {n_layers}")
    if t.num_experts < k or t.num_experts < 1:
        raise InputError(src, f"num_experts {t.num_experts} is smaller than top-k {k}")
    out = np.argwhere((t.topk < 0) | (t.topk >= t.num_experts))
    if out.size:
        layer, tok, slot = (int(x) for x in out[0])
        raise InputError(src, f"token {tok}, layer {t.layers[layer]}: expert id {int(t.topk[layer, tok, slot])} "
                              f"outside [0, {t.num_experts})")
    s = np.sort(t.topk, axis=2)
    dup = np.argwhere(s[:, :, 1:] == s[:, :, :-1])
    if dup.size:
        layer, tok, _ = (int(x) for x in dup[0])
        raise InputError(src, f"token {tok}, layer {t.layers[layer]}: an expert appears twice in its top-{k}")
    for name, arr in (("document", t.document), ("position", t.position)):
        if arr.shape != (n_tok,):
            raise InputError(src, f"{name} must have shape [{n_tok}], got {list(arr.shape)}")
    if t.document.min() < 0 or t.document.max() >= len(t.documents):
        raise InputError(src, "document index outside the documents list")
    sizes = np.bincount(t.document, minlength=len(t.documents))
    for i, d in enumerate(t.documents):
        if int(sizes[i]) != int(d["tokens"]):
            raise InputError(src, f"document {i} ({d.get('name')!r}) says {d['tokens']} tokens, trace holds {int(sizes[i])}")
    starts = np.r_[True, t.document[1:] != t.document[:-1]]
    if int(starts.sum()) != int((sizes > 0).sum()):
        raise InputError(src, "tokens of one document are not consecutive")
    expected = np.arange(n_tok) - np.maximum.accumulate(np.where(starts, np.arange(n_tok), 0))
    bad = np.flatnonzero(t.position != expected)
    if bad.size:
        raise InputError(src, f"token {int(bad[0])}: position {int(t.position[bad[0]])}, expected {int(expected[bad[0]])}")


def save_trace(t: RouterTrace, out_dir: Path, extra: dict | None = None) -> Path:
    """Write the native format atomically (tensors first, ``trace.json`` last); ``extra`` fields
    (e.g. the main job's cache key) go into ``trace.json``."""
    from safetensors.numpy import save_file

    from ...provenance import sha256_file

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / META).unlink(missing_ok=True)  # a directory without trace.json is incomplete
    with atomic_path(out_dir / TENSORS) as tmp:
        save_file({"topk": t.topk.astype(np.int16), "document": t.document.astype(np.int32),
                   "position": t.position.astype(np.int32)}, str(tmp))
    meta = {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "model": t.model, "num_experts": t.num_experts,
            "top_k": t.top_k, "layers": list(t.layers), "tokens": t.tokens, "documents": t.documents,
            "files": {TENSORS: sha256_file(out_dir / TENSORS)}}
    meta.update(extra or {})
    if t.router_input_rms is not None:
        meta["router_input_rms"] = [float(x) for x in t.router_input_rms]
    atomic_write_text(out_dir / META, json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return out_dir


def _schema_error(meta, path: Path) -> None:
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "router_trace.v1.schema.json").read_text())
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(meta))
    if err is not None:
        where = "/" + "/".join(str(p) for p in err.absolute_path)
        raise InputError(path, f"{where}: {err.message[:200]}")


def load_trace(path: str | Path) -> RouterTrace:
    """Read a native trace directory (or its ``trace.json``) or a JSON Lines trace."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    d = path.parent if path.name == META else path
    meta_path = d / META
    if not meta_path.is_file():
        raise InputError(d, f"no {META}: not a router trace directory (or an interrupted write)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(meta_path, f"not valid JSON: {str(exc)[:200]}") from None
    _schema_error(meta, meta_path)
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    from ...provenance import sha256_file

    tpath = d / TENSORS
    if not tpath.is_file():
        raise InputError(tpath, "missing")
    want = meta["files"].get(TENSORS)
    if want is not None and sha256_file(tpath) != want:
        raise InputError(tpath, f"SHA-256 differs from {META} (file changed or truncated)")
    try:
        tensors = load_file(str(tpath))
    except (SafetensorError, OSError, ValueError) as exc:
        raise InputError(tpath, f"unreadable safetensors: {str(exc)[:200]}") from None
    for name in ("topk", "document", "position"):
        if name not in tensors:
            raise InputError(tpath, f"no tensor {name!r}")
    topk = tensors["topk"]
    if topk.ndim == 3 and topk.shape[1] != meta["tokens"]:
        raise InputError(tpath, f"topk holds {topk.shape[1]} tokens, {META} says {meta['tokens']}")
    if topk.ndim == 3 and topk.shape[2] != meta["top_k"]:
        raise InputError(tpath, f"topk holds k = {topk.shape[2]}, {META} says top_k {meta['top_k']}")
    return RouterTrace(topk=topk if not np.issubdtype(topk.dtype, np.integer) else topk.astype(np.int16),
                       document=tensors["document"].astype(np.int64), position=tensors["position"].astype(np.int64),
                       documents=meta["documents"], num_experts=int(meta["num_experts"]), layers=list(meta["layers"]),
                       model=meta.get("model", ""), router_input_rms=meta.get("router_input_rms"), source=str(tpath))


def read_jsonl(path: Path) -> RouterTrace:
    """Parse the JSON Lines interchange format (see the module docstring)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(path, f"unreadable: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 at byte {exc.start}") from None
    if not lines:
        raise InputError(path, "empty file: line 1 must be the header")

    def parse(i: int) -> dict:
        def constant(c):
            raise InputError(f"{path}:{i + 1}", f"{c} is not a number an expert id can be (NaN/Infinity refused)")

        try:
            obj = json.loads(lines[i], parse_constant=constant)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{i + 1}", f"not a JSON object ({str(exc)[:120]})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{path}:{i + 1}", "not a JSON object")
        return obj

    head = parse(0)
    if head.get("schema") != JSONL_SCHEMA:
        raise InputError(f"{path}:1", f"field 'schema' must be {JSONL_SCHEMA!r}")
    n_exp = head.get("num_experts")
    layers = head.get("layers")
    if not isinstance(n_exp, int) or isinstance(n_exp, bool) or n_exp < 1:
        raise InputError(f"{path}:1", "field 'num_experts' must be a positive integer")
    if not isinstance(layers, list) or not layers or not all(isinstance(x, int) for x in layers):
        raise InputError(f"{path}:1", "field 'layers' must be a non-empty list of layer indices")
    body = [i for i in range(1, len(lines)) if lines[i].strip()]
    if not body:
        raise InputError(path, "empty trace: no token lines after the header")
    k = None
    rows = np.empty((len(body), len(layers), 0), dtype=np.int64)
    docs: list[dict] = []
    doc_idx = np.empty(len(body), dtype=np.int64)
    seen: dict[str, int] = {}
    for j, i in enumerate(body):
        obj = parse(i)
        where = f"{path}:{i + 1}"
        name = obj.get("document")
        if not isinstance(name, (str, int)) or isinstance(name, bool):
            raise InputError(where, "field 'document' must be a string or an integer")
        exps = obj.get("experts")
        if not isinstance(exps, list) or len(exps) != len(layers):
            raise InputError(where, f"field 'experts' must be a list of {len(layers)} lists (one per layer)")
        for li, ids in enumerate(exps):
            if not isinstance(ids, list) or not ids:
                raise InputError(where, f"field 'experts[{li}]' must be a non-empty list of expert ids")
            for x in ids:
                if isinstance(x, float) and x != x:
                    raise InputError(where, f"field 'experts[{li}]' holds NaN")
                if not isinstance(x, int) or isinstance(x, bool):
                    raise InputError(where, f"field 'experts[{li}]' holds {x!r}, not an integer expert id")
                if not 0 <= x < n_exp:
                    raise InputError(where, f"field 'experts[{li}]': expert id {x} outside [0, {n_exp})")
            if k is None:
                k = len(ids)
                rows = np.empty((len(body), len(layers), k), dtype=np.int64)
            elif len(ids) != k:
                raise InputError(where, f"field 'experts[{li}]' has {len(ids)} ids; earlier tokens have k = {k}")
            if len(set(ids)) != len(ids):
                raise InputError(where, f"field 'experts[{li}]' names an expert twice")
        rows[j] = exps
        key = str(name)
        if key not in seen:
            seen[key] = len(docs)
            docs.append({"domain": str(obj.get("domain", "")), "name": key, "tokens": 0})
        elif seen[key] != len(docs) - 1:
            raise InputError(where, f"document {key!r} resumes after another document: tokens of a document must be consecutive")
        doc_idx[j] = seen[key]
        docs[seen[key]]["tokens"] += 1
    starts = np.r_[True, doc_idx[1:] != doc_idx[:-1]]
    pos = np.arange(len(body)) - np.maximum.accumulate(np.where(starts, np.arange(len(body)), 0))
    return RouterTrace(topk=rows.transpose(1, 0, 2).astype(np.int16), document=doc_idx, position=pos, documents=docs,
                       num_experts=n_exp, layers=list(layers), model=str(head.get("model", "")), source=str(path))
