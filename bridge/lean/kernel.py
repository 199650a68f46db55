"""Kernel check: ``lake build`` plus the project's axiom export, when a Lean toolchain exists.

The export (``lake exe moegauge_axioms``, source in ``lean/MoEGaugeExport/``) prints one JSON
object listing, for every project declaration, the axioms its kernel term depends on
(``Lean.collectAxioms``). A declaration is kernel-``checked`` only if the build succeeded and its
axioms lie within ``propext``, ``Classical.choice`` and ``Quot.sound``; ``sorryAx`` or any other
axiom makes it ``failed``. Without a toolchain every declaration is ``unchecked`` and says why:
this module never reports a check that did not run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # pragma: no cover
    from .reader import Declaration

STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
EXPORT_SCHEMA = "moegauge.lean_axioms"
EXPORT_VERSION = 1
EXPORT_EXE = "moegauge_axioms"


class KernelExportError(ValueError):
    """The axiom export's output is not what the bridge understands."""


@dataclass
class KernelReport:
    """Outcome of a kernel run (or why there was none)."""

    ran: bool
    ok: bool
    reason: str
    axioms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    lean_version: str | None = None

    @classmethod
    def skipped(cls, reason: str) -> "KernelReport":
        return cls(ran=False, ok=False, reason=reason)


def parse_axiom_export(text: str) -> tuple[dict[str, tuple[str, ...]], str | None]:
    """Parse the export's stdout into ``{declaration name: sorted axioms}`` and the Lean version."""
    start = text.find("{")
    if start == -1:
        raise KernelExportError("no JSON object in the export's output")
    try:
        data = json.loads(text[start:])
    except json.JSONDecodeError as exc:
        raise KernelExportError(f"export output is not valid JSON: {exc.msg} at char {exc.pos + start}") from None
    if not isinstance(data, dict) or data.get("schema") != EXPORT_SCHEMA:
        raise KernelExportError(f"export output has no schema {EXPORT_SCHEMA!r}")
    if data.get("version") != EXPORT_VERSION:
        raise KernelExportError(f"unsupported export version {data.get('version')!r} (expected {EXPORT_VERSION})")
    decls = data.get("declarations")
    if not isinstance(decls, list):
        raise KernelExportError("export field 'declarations' must be a list")
    out: dict[str, tuple[str, ...]] = {}
    for k, entry in enumerate(decls):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise KernelExportError(f"declarations[{k}] has no string 'name'")
        axioms = entry.get("axioms")
        if not isinstance(axioms, list) or not all(isinstance(a, str) for a in axioms):
            raise KernelExportError(f"declarations[{k}] ('{entry['name']}') has no list of axiom names")
        out[demangle_private(entry["name"])] = tuple(sorted(set(axioms)))
    version = data.get("lean_version")
    return out, version if isinstance(version, str) else None


def demangle_private(name: str) -> str:
    """``_private.Mod.Path.0.A.foo`` → ``A.foo`` (the name the source reader reports)."""
    if not name.startswith("_private."):
        return name
    parts = name.split(".")
    for k, part in enumerate(parts[1:], start=1):
        if part.isdigit():
            return ".".join(parts[k + 1 :])
    return name


def find_project_root(lean_dir: Path) -> Path | None:
    """The nearest directory at or above ``lean_dir`` holding a lakefile."""
    for cand in (lean_dir, *lean_dir.parents):
        if (cand / "lakefile.lean").is_file() or (cand / "lakefile.toml").is_file():
            return cand
    return None


def _stream(cmd: list[str], cwd: Path, log: TextIO, keep: int = 60) -> tuple[int, list[str]]:
    """Run ``cmd``, echo its output to ``log`` as it comes, keep the last ``keep`` lines."""
    tail: deque[str] = deque(maxlen=keep)
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        log.write(f"  lake: {line}")
        tail.append(line.rstrip("\n"))
    return proc.wait(), list(tail)


def run_kernel(root: Path, lake: str, log: TextIO = sys.stderr) -> KernelReport:
    """``lake build`` then ``lake exe moegauge_axioms`` in ``root``."""
    log.write(f"kernel: running `lake build` in {root} (the first build after `lake exe cache get` takes minutes)\n")
    code, tail = _stream([lake, "build"], root, log)
    if code != 0:
        first_error = next((ln for ln in tail if "error" in ln), tail[-1] if tail else "no output")
        return KernelReport(ran=True, ok=False, reason=f"lake build failed (exit {code}): {first_error.strip()}")
    log.write(f"kernel: running `lake exe {EXPORT_EXE}`\n")
    proc = subprocess.run([lake, "exe", EXPORT_EXE], cwd=root, capture_output=True, text=True)
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        return KernelReport(
            ran=True, ok=False, reason=f"lake exe {EXPORT_EXE} failed (exit {proc.returncode}): {msg[-1] if msg else ''}"
        )
    try:
        axioms, version = parse_axiom_export(proc.stdout)
    except KernelExportError as exc:
        return KernelReport(ran=True, ok=False, reason=f"lake exe {EXPORT_EXE}: {exc}")
    return KernelReport(ran=True, ok=True, reason="lake build and axiom export succeeded", axioms=axioms, lean_version=version)


def kernel_verdict(decl: "Declaration", report: KernelReport | None) -> dict:
    """The ``kernel`` field of one declaration: checked / failed / unchecked, with the reason."""
    if report is None:
        return {"status": "unchecked", "reason": "kernel check not requested"}
    if not report.ran:
        return {"status": "unchecked", "reason": report.reason}
    if not report.ok:
        return {"status": "failed", "reason": report.reason}
    if decl.anonymous:
        return {"status": "unchecked", "reason": f"anonymous {decl.kind}: not named in the kernel export"}
    axioms = report.axioms.get(decl.name)
    if axioms is None:
        return {"status": "unchecked", "reason": "not found in the kernel export (name differs after elaboration?)"}
    extra = sorted(set(axioms) - STANDARD_AXIOMS)
    if not extra:
        return {"status": "checked", "reason": "built; axioms within propext, Classical.choice, Quot.sound",
                "axioms": list(axioms)}
    if "sorryAx" in extra:
        reason = "depends on sorryAx (an unfinished proof)"
    elif decl.kind == "axiom" and extra == [decl.name]:
        reason = "is itself an axiom"
    else:
        reason = "depends on non-standard axioms: " + ", ".join(extra)
    return {"status": "failed", "reason": reason, "axioms": list(axioms)}


def kernel_gate(declarations: Iterable[dict]) -> list[str]:
    """What a required kernel check must refuse, one message per offending declaration (entries of
    a status document's ``declarations``, built after a successful kernel run): ``sorryAx`` outside a deferred declaration (an
    unfinished proof that is not recorded as deferred, or a proof that leans on one), and any axiom
    beyond ``propext``, ``Classical.choice``, ``Quot.sound`` (a project axiom, ``Lean.ofReduceBool``…).
    """
    problems = []
    for d in declarations:
        axioms = set(d["kernel"].get("axioms", ()))
        where = f"{d['file']}:{d['line']}: {d['name']}"
        if "sorryAx" in axioms and d["status"] != "deferred":
            problems.append(f"{where}: depends on sorryAx but is not a deferred declaration (status {d['status']})")
        extra = sorted(axioms - STANDARD_AXIOMS - {"sorryAx"})
        if extra:
            problems.append(f"{where}: uses axioms beyond the standard three: {', '.join(extra)}")
    return problems


def find_lake() -> str | None:
    return shutil.which("lake")
