"""Ladder specs (``ladders/<name>.json``, schema ``moegauge/ladder`` v1) and their gates.

A spec lists rungs in queue order. A rung of a ladder run here (``"mode": "run"``) has:

* ``id`` and ``hypothesis`` (words);
* ``command`` (argv list, run from the project root) and ``artifact`` (the JSON it writes);
* ``preconditions``: rungs that must have PASSed;
* ``observe``: name → JSON pointer into the artifact (``/measures/x/value``);
* ``success_gate`` and ``kill_gate``: comparisons ``<formula> <op> <formula>`` with ``op`` one of
  ``< <= > >=``, each side in the audit's formula language (``bridge.audit.expr``) over the
  observed names;
* ``traps``: controls, each ``{"id", "description", "observe", "requires"}``; ``requires`` is a
  comparison that must hold, or the rung is void (INCONCLUSIVE, trigger ``trap``).

A *reported* ladder (``"mode": "reported"``) encodes a ladder someone else ran, as data: its rungs
carry the reported ``status`` and their gates as text, and the engine checks only its queue
semantics (:mod:`bridge.ladder.reported`).

The spec's canonical bytes (sorted keys, no whitespace, UTF-8) are what a lock hashes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..audit.expr import FormulaError, formula_names, parse_formula

SCHEMA = "moegauge/ladder"
VERDICTS = ("PASS", "KILL", "INCONCLUSIVE", "BLOCKED", "TAMPERED")
_COMPARISON = re.compile(r"^(?P<lhs>.+?)\s*(?P<op><=|>=|<|>)\s*(?P<rhs>[^<>=]+)$")


class SpecError(ValueError):
    """A malformed spec or gate: ``where`` is ``FILE`` or ``FILE:/json/pointer``."""

    def __init__(self, where: str, message: str):
        self.where, self.message = where, message
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Gate:
    lhs: str
    op: str
    rhs: str

    @property
    def text(self) -> str:
        return f"{self.lhs} {self.op} {self.rhs}"

    def names(self) -> set[str]:
        return formula_names(self.lhs) | formula_names(self.rhs)


def parse_gate(text: str, where: str) -> Gate:
    """``<formula> <op> <formula>`` (exactly one comparison)."""
    if not isinstance(text, str) or text.count("<") + text.count(">") != 1:
        raise SpecError(where, f"a gate is one comparison 'formula < | <= | > | >= formula', got {text!r}")
    m = _COMPARISON.match(text.strip())
    if m is None:
        raise SpecError(where, f"cannot read the comparison in {text!r}")
    for side in ("lhs", "rhs"):
        try:
            parse_formula(m.group(side).strip())
        except FormulaError as exc:
            raise SpecError(where, str(exc)) from None
    return Gate(m.group("lhs").strip(), m.group("op"), m.group("rhs").strip())


def canonical_bytes(spec: dict) -> bytes:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def spec_sha256(spec: dict) -> str:
    return hashlib.sha256(canonical_bytes(spec)).hexdigest()


@lru_cache(maxsize=1)
def _validator():
    from importlib import resources

    import jsonschema

    text = resources.files("bridge").joinpath("schemas/ladder.v1.schema.json").read_text(encoding="utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def load_spec(path: Path, label: str | None = None) -> dict:
    """Read and check a spec; raises :class:`SpecError` naming the file, line or JSON pointer."""
    label = label or str(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SpecError(label, f"cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise SpecError(f"{label}:{exc.lineno}:{exc.colno}", f"invalid JSON: {exc.msg}") from None
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        e = errors[0]
        ptr = "/" + "/".join(str(p) for p in e.absolute_path)
        raise SpecError(f"{label}:{ptr}", " ".join(e.message.split())[:200])
    check_rungs(doc, label)
    return doc


def check_rungs(doc: dict, label: str) -> None:
    """What the schema cannot say: unique ids, preconditions that name earlier rungs, gates that
    parse and name only observed values."""
    seen: list[str] = []
    for i, rung in enumerate(doc["rungs"]):
        where = f"{label}:/rungs/{i}"
        if rung["id"] in seen:
            raise SpecError(f"{where}/id", f"duplicate rung id {rung['id']!r}")
        for j, pre in enumerate(rung.get("preconditions", [])):
            if pre not in seen:
                raise SpecError(f"{where}/preconditions/{j}", f"{pre!r} is not an earlier rung")
        seen.append(rung["id"])
        if doc["mode"] != "run":
            continue
        observed = set(rung["observe"])
        for key in ("success_gate", "kill_gate"):
            gate = parse_gate(rung[key], f"{where}/{key}")
            unknown = gate.names() - observed
            if unknown:
                raise SpecError(f"{where}/{key}", f"names {sorted(unknown)} that 'observe' does not define")
        for t, trap in enumerate(rung.get("traps", [])):
            gate = parse_gate(trap["requires"], f"{where}/traps/{t}/requires")
            unknown = gate.names() - set(trap["observe"])
            if unknown:
                raise SpecError(f"{where}/traps/{t}/requires", f"names {sorted(unknown)} that the trap's 'observe' does not define")


def ladder_dir(root: Path) -> Path:
    return root / "ladders"


def spec_path(root: Path, name: str) -> Path:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise SpecError(name, "a ladder name is letters, digits, '_', '-' and '.'")
    return ladder_dir(root) / f"{name}.json"
