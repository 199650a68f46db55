"""Claims: loading, binding resolution and recomputation at the stated precision.

A claim's ``source`` is one binding (an artifact field by JSON pointer, a ``lean_status`` field,
another claim, or a stated constant), a formula over named bindings, or ``range_of`` a list of
bindings (for a stated range "a–b"). Artifact and lean_status fields are exact; a claim or a
constant binding contributes the interval of its own stated value, so derived numbers are checked
with the rounding of their inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jsonschema

from ..jsonio import read_json_file, short_message
from .expr import FormulaError, evaluate, formula_names
from .findings import Finding
from .formula_types import NUMBER, QType, binding_type, compatible, derive
from .interval import Interval, StatedValue, StatedValueError, parse_stated
from .quantities import NUMERIC, QUANTITIES

CLAIMS_SCHEMA = "moegauge/claims"


def _claims_schema_text() -> str:
    return resources.files("bridge").joinpath("schemas/claims.v1.schema.json").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def claims_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(_claims_schema_text()))


def claims_checker():
    from .schema_check import checker

    return checker(_claims_schema_text())


def json_pointer(doc, pointer: str):
    """Resolve an RFC 6901 pointer; raises KeyError naming the first missing step."""
    node = doc
    if pointer in ("", "/"):
        return node
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(part)
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node:
                raise KeyError(part)
            node = node[part]
        else:
            raise KeyError(part)
    return node


def field_quantity(artifact: dict, pointer: str) -> str | None:
    """The quantity an artifact declares for the number at ``pointer`` (measures or table cells)."""
    parts = pointer.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "measures" and parts[2] == "value":
        return artifact.get("measures", {}).get(parts[1], {}).get("quantity")
    if len(parts) == 5 and parts[0] == "tables" and parts[2] == "rows":
        return artifact.get("tables", {}).get(parts[1], {}).get("columns", {}).get(parts[4], {}).get("quantity")
    return None


@dataclass
class ClaimRecord:
    """One claim as loaded, with where it lives and what the audit learned about it."""

    data: dict
    file: str
    pointer: str
    stated: StatedValue | None = None
    computed: Interval | None = None
    computed_text: str = ""
    field_quantity: str | None = None
    true_quantity: str | None = None  # set when the value only fits another quantity (unit conflation)
    status: str = "unchecked"  # consistent | inconsistent | not_recomputable | unresolved | invalid
    artifacts: set[str] = field(default_factory=set)

    @property
    def id(self) -> str:
        return self.data["id"]

    @property
    def quantity(self) -> str:
        return self.data["quantity"]

    def finding(self, rule: str, severity: str, message: str, sub: str = "") -> Finding:
        return Finding(rule, severity, self.file, self.pointer + sub, message, self.id)


class Resolver:
    """Resolves bindings against artifacts (loaded once each), lean_status and other claims."""

    def __init__(self, root: Path, artifacts: dict[str, dict], lean_status: dict, claims: dict[str, ClaimRecord]):
        self.root = root
        self.artifacts = artifacts
        self.lean_status = lean_status
        self.claims = claims

    def binding(self, b: dict, record: ClaimRecord, stack: tuple[str, ...]) -> tuple[Interval, str | None]:
        """(interval, declared quantity of the field or None); raises LookupError with a reason."""
        if "artifact" in b:
            path = b["artifact"]
            doc = self.artifacts.get(path)
            if doc is None:
                raise LookupError(f"artifact {path} does not exist (or is not an artifact under evidence/)")
            record.artifacts.add(path)
            try:
                value = json_pointer(doc, b["pointer"])
            except KeyError as exc:
                raise LookupError(f"{path} has no {b['pointer']} (missing {exc.args[0]!r})") from None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise LookupError(f"{path}{b['pointer']} is not a number")
            return Interval.point(value), field_quantity(doc, b["pointer"])
        if "lean_status" in b:
            try:
                value = json_pointer(self.lean_status, b["lean_status"])
            except KeyError as exc:
                raise LookupError(f"lean_status has no {b['lean_status']} (missing {exc.args[0]!r})") from None
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise LookupError(f"lean_status {b['lean_status']} is not a number")
            return Interval.point(value), "count"
        if "claim" in b:
            other = self.claims.get(b["claim"])
            if other is None:
                raise LookupError(f"no claim {b['claim']!r}")
            if other.id in stack:
                raise LookupError("circular claim references: " + " → ".join((*stack, other.id)))
            if other.stated is None:
                raise LookupError(f"claim {other.id!r} has no readable value")
            return other.stated.interval, other.quantity
        try:
            return parse_stated(b["value"]).interval, None
        except StatedValueError as exc:
            raise LookupError(str(exc)) from None

    def binding_type(self, b: dict) -> QType:
        """The quantity type a binding contributes to a formula (see ``formula_types``)."""
        if "artifact" in b:
            doc = self.artifacts.get(b["artifact"])
            return binding_type(field_quantity(doc, b["pointer"]) if doc is not None else None)
        if "lean_status" in b:
            return binding_type("count")
        if "claim" in b:
            other = self.claims.get(b["claim"])
            return binding_type(other.quantity, other.data.get("ratio_of")) if other else binding_type(None)
        try:
            return QType("number", value=parse_stated(b["value"]).interval.mid)
        except (StatedValueError, AttributeError):
            return NUMBER

    def formula_type_finding(self, record: ClaimRecord) -> Finding | None:
        """Check 4b: the claim's stated quantity must follow from its formula over typed bindings."""
        src = record.data.get("source") or {}
        if "formula" not in src:
            return None
        try:
            derived = derive(src["formula"], {n: self.binding_type(b) for n, b in src["bindings"].items()})
        except FormulaError:
            return None  # already reported as unresolved
        verdict = compatible(derived, record.quantity, record.data.get("ratio_of"))
        if verdict is None:
            return None
        severity, message = verdict
        rule = "claim.quantity_mismatch" if severity == "error" else "claim.quantity_underivable"
        return record.finding(rule, severity, f"{src['formula']}: {message}", "/quantity")

    def recompute(self, record: ClaimRecord, stack: tuple[str, ...] = ()) -> tuple[Interval | None, list[Interval]]:
        """(computed interval, per-binding intervals for range_of) or (None, []) without a source."""
        src = record.data.get("source")
        stack = (*stack, record.id)
        if src is None:
            return None, []
        if "formula" in src:
            try:
                names = formula_names(src["formula"])
            except FormulaError as exc:
                raise LookupError(str(exc)) from None
            missing = sorted(names - set(src["bindings"]))
            if missing:
                raise LookupError(f"formula names {missing} have no binding")
            env = {name: self.binding(b, record, stack)[0] for name, b in src["bindings"].items()}
            try:
                return evaluate(src["formula"], env), []
            except FormulaError as exc:
                raise LookupError(str(exc)) from None
        if "range_of" in src:
            parts = [self.binding(b, record, stack)[0] for b in src["range_of"]]
            return Interval(min(p.lo for p in parts), max(p.hi for p in parts)), parts
        interval, fq = self.binding(src, record, stack)
        record.field_quantity = fq
        return interval, []


def load_claim_files(paths: list[Path], root: Path) -> tuple[dict[str, ClaimRecord], list[str]]:
    """Claim records by id, and bad-input messages (file + pointer)."""
    records: dict[str, ClaimRecord] = {}
    problems: list[str] = []
    validator = claims_validator()
    for path in paths:
        rel = _rel(path, root)
        doc, problem = read_json_file(path, rel)
        if problem:
            problems.append(problem)
            continue
        fast_ok = claims_checker().is_valid_fast(doc)
        errors = [] if fast_ok else sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            for e in errors[:5]:
                problems.append(f"{rel}: /{'/'.join(map(str, e.absolute_path))}: {short_message(e.message)}")
            continue
        for i, claim in enumerate(doc["claims"]):
            pointer = f"/claims/{i}"
            is_verdict = claim["quantity"] == VERDICT and isinstance(claim.get("source"), dict) and "ladder" in claim["source"]
            if claim["quantity"] not in NUMERIC and not is_verdict:
                problems.append(f"{rel}: {pointer}/quantity: unknown quantity {claim['quantity']!r}")
                continue
            if "ratio_of" in claim and claim["ratio_of"] not in NUMERIC:
                problems.append(f"{rel}: {pointer}/ratio_of: unknown quantity {claim['ratio_of']!r}")
                continue
            if claim["id"] in records:
                first = records[claim["id"]]
                problems.append(f"{rel}: {pointer}/id: claim id {claim['id']!r} already used in {first.file}{first.pointer}")
                continue
            records[claim["id"]] = ClaimRecord(claim, rel, pointer)
    return records, problems


#: The quantity of a claim that states a ladder rung's verdict (source ``{"ladder", "rung"}``).
VERDICT = "verdict"


def _verdict_claim(rec: ClaimRecord, root: Path) -> list[Finding]:
    """Check 7c: a claim citing a rung's verdict states the verdict its decision.json holds (the
    decision itself is recomputed by check 7)."""
    src = rec.data["source"]
    path = root / "ladders" / src["ladder"] / src["rung"] / "decision.json"
    if not path.is_file():
        rec.status = "unresolved"
        return [rec.finding("claim.unresolved", "error", f"no decision for {src['ladder']}/{src['rung']} ({_rel(path, root)})",
                            "/source")]
    verdict = json.loads(path.read_text(encoding="utf-8")).get("verdict")
    rec.computed_text = verdict
    if rec.data["value"] != verdict:
        rec.status = "inconsistent"
        return [rec.finding("claim.recompute", "error",
                            f"states {rec.data['value']!r} but {src['ladder']}/{src['rung']} decided {verdict!r}", "/value")]
    rec.status = "consistent"
    return []


def evaluate_claims(claims: dict[str, ClaimRecord], resolver: Resolver) -> list[Finding]:
    """Parse stated values, check quantity ranges, recompute from sources (checks 3 and 4a)."""
    findings: list[Finding] = []
    for rec in [r for r in claims.values() if r.quantity == VERDICT]:
        findings += _verdict_claim(rec, resolver.root)
    claims = {k: r for k, r in claims.items() if r.quantity != VERDICT}
    for rec in claims.values():
        try:
            rec.stated = parse_stated(rec.data["value"])
        except StatedValueError as exc:
            rec.status = "invalid"
            findings.append(rec.finding("claim.value", "error", str(exc), "/value"))
    for rec in sorted(claims.values(), key=lambda r: r.id):
        if rec.stated is None:
            continue
        spec = QUANTITIES[rec.quantity]
        problem = spec.violation(rec.stated.interval)
        if problem:
            findings.append(rec.finding("claim.range", "error", f"stated value {rec.data['value']!r}: {problem}", "/value"))
        try:
            computed, parts = resolver.recompute(rec)
        except LookupError as exc:
            rec.status = "unresolved"
            findings.append(rec.finding("claim.unresolved", "error", f"cannot recompute: {exc}", "/source"))
            continue
        if computed is None:
            rec.status = "not_recomputable"
            findings.append(rec.finding("claim.not_recomputable", "info",
                                        "no source: checked for range, theorem status and implications only"))
            continue
        rec.computed = computed
        rec.computed_text = str(computed)
        typed = resolver.formula_type_finding(rec)
        if typed is not None:
            findings.append(typed)
        if rec.field_quantity and rec.field_quantity != rec.quantity:
            findings.append(rec.finding(
                "claim.unit_conflation", "error",
                f"stated as {rec.quantity} but the source field is a {rec.field_quantity}", "/quantity"))
        ok = _agrees(rec.stated, computed, parts)
        rec.status = "consistent" if ok else "inconsistent"
        spread = (rec.data.get("spread") or {}).get("value")
        if spread is not None and not rec.stated.is_range and spread > rec.stated.interval.width / 2:
            findings.append(rec.finding(
                "claim.spread", "warning",
                f"stated {rec.data['value']!r} (±{rec.stated.interval.width / 2:.3g}) but its run-to-run spread is "
                f"{spread:.3g}: a rerun with other CPU kernels, threads or seeds need not reproduce it", "/spread"))
        if not ok:
            findings.append(rec.finding(
                "claim.recompute", "error",
                f"stated {rec.data['value']!r} (= {rec.stated.interval} at its precision) but the source gives "
                f"{computed}", "/value"))
    return findings


def _agrees(stated: StatedValue, computed: Interval, parts: list[Interval]) -> bool:
    if parts:  # a range claim: its written ends are the source's extremes
        lo_end, hi_end = stated.ends[0], stated.ends[-1]
        lows = Interval(min(p.lo for p in parts), min(p.hi for p in parts))
        highs = Interval(max(p.lo for p in parts), max(p.hi for p in parts))
        return lo_end.meets(lows) and hi_end.meets(highs)
    if stated.is_range:  # one source value inside a stated range
        return stated.interval.meets(computed)
    return stated.interval.meets(computed)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()
