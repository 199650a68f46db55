"""Audit findings and the acknowledged-findings baseline.

A finding names a rule, a severity, the file and JSON pointer it is about, and a message. Its
fingerprint hashes the rule, file, pointer and subject — not the message, whose numbers may move
a little from run to run — so a reviewed finding stays acknowledged until what it is about changes.

The baseline (``evidence/audit_baseline.json``) lists acknowledged findings, each with the reason
a person accepted it, as linters do: the audit exits 0 when every error and warning is
acknowledged, 1 on any new one, and reports baseline entries that no longer fire.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

SEVERITIES = ("error", "warning", "info")
BASELINE_SCHEMA = "moegauge/audit_baseline"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    file: str
    pointer: str
    message: str
    subject: str = ""

    @property
    def fingerprint(self) -> str:
        key = "\x1f".join((self.rule, self.file, self.pointer, self.subject))
        return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]

    def sort_key(self) -> tuple:
        return (SEVERITIES.index(self.severity), self.rule, self.file, self.pointer, self.subject, self.message)

    def to_json(self, acknowledged: str | None = None) -> dict:
        out = {"fingerprint": self.fingerprint, "rule": self.rule, "severity": self.severity, "file": self.file,
               "pointer": self.pointer, "subject": self.subject, "message": self.message}
        out["acknowledged"] = acknowledged
        return out


class BaselineError(ValueError):
    pass


@dataclass
class Baseline:
    path: Path | None
    entries: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> "Baseline":
        if path is None or not path.is_file():
            return cls(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise BaselineError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise BaselineError(f"{path}: JSON nested too deeply to read") from None
        if not isinstance(doc, dict) or doc.get("schema") != BASELINE_SCHEMA or doc.get("schema_version") != 1:
            raise BaselineError(f"{path}: /schema: expected {BASELINE_SCHEMA!r} version 1")
        entries = {}
        for i, e in enumerate(doc.get("acknowledged", [])):
            for key in ("fingerprint", "rule", "reason"):
                if not isinstance(e, dict) or not isinstance(e.get(key), str) or not e[key].strip():
                    raise BaselineError(f"{path}: /acknowledged/{i}/{key}: a non-empty string is required")
            entries[e["fingerprint"]] = e
        return cls(path, entries)

    def reason(self, f: Finding) -> str | None:
        e = self.entries.get(f.fingerprint)
        return e["reason"] if e else None

    def unused(self, findings: list[Finding]) -> list[dict]:
        fired = {f.fingerprint for f in findings}
        return [e for fp, e in sorted(self.entries.items()) if fp not in fired]

    @staticmethod
    def entry(f: Finding, reason: str) -> dict:
        return {"fingerprint": f.fingerprint, "rule": f.rule, "file": f.file, "pointer": f.pointer,
                "subject": f.subject, "message": f.message, "reason": reason}
