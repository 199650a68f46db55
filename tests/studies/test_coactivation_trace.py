"""Router traces: the on-disk formats, bad traces (located errors, exit 2), and capture from real MoEs."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from moegauge.errors import InputError
from moegauge.studies.coactivation import synthetic
from moegauge.studies.coactivation.routing import capture_trace, gaussian_trace
from moegauge.studies.coactivation.trace import JSONL_SCHEMA, RouterTrace, load_trace, save_trace


def _jsonl(path, tokens, header=None):
    head = header or {"schema": JSONL_SCHEMA, "num_experts": 8, "layers": [0, 1]}
    path.write_text("\n".join([json.dumps(head)] + tokens) + "\n")
    return path


def test_native_round_trip(tmp_path):
    tr = synthetic.planted_teams(5000, layers=2, seed=0, doc_tokens=700)
    back = load_trace(save_trace(tr, tmp_path / "t"))
    assert back.sha256() == tr.sha256()
    learn, ev = back.halves()
    assert learn.size + ev.size == tr.tokens and np.intersect1d(learn, ev).size == 0
    assert (back.position[learn] < np.array([d["tokens"] for d in back.documents])[back.document[learn]] // 2).all()


def test_jsonl_matches_native(tmp_path):
    lines = [json.dumps({"document": "a", "experts": [[0, 1], [2, 3]]}),
             json.dumps({"document": "a", "experts": [[1, 2], [3, 4]]}),
             json.dumps({"document": "b", "domain": "code", "experts": [[5, 6], [6, 7]]})]
    tr = load_trace(_jsonl(tmp_path / "t.jsonl", lines))
    assert tr.topk.shape == (2, 3, 2) and tr.topk[1, 2].tolist() == [6, 7]
    assert tr.position.tolist() == [0, 1, 0] and tr.documents[1] == {"domain": "code", "name": "b", "tokens": 1}


@pytest.mark.parametrize("line, where, words", [
    ('{"document": "a", "experts": [[0, 1], [2]]}', 3, "k = 2"),
    ('{"document": "a", "experts": [[0, 9], [2, 3]]}', 3, "outside [0, 8)"),
    ('{"document": "a", "experts": [[0, NaN], [2, 3]]}', 3, "NaN"),
    ('{"document": "a", "experts": [[0, 0], [2, 3]]}', 3, "twice"),
    ('{"document": "a", "experts": [[0, 1]]}', 3, "list of 2 lists"),
    ('{"document": "a", "experts": [[0, 1.5], [2, 3]]}', 3, "not an integer"),
    ('not json', 3, "not a JSON object"),
])
def test_bad_jsonl_lines_are_located(tmp_path, line, where, words):
    path = _jsonl(tmp_path / "bad.jsonl", [json.dumps({"document": "a", "experts": [[0, 1], [2, 3]]}), line])
    with pytest.raises(InputError) as err:
        load_trace(path)
    assert err.value.path == f"{path}:{where}" and words in err.value.message


def test_empty_and_interleaved_traces_are_refused(tmp_path):
    with pytest.raises(InputError, match="no token lines"):
        load_trace(_jsonl(tmp_path / "empty.jsonl", []))
    lines = [json.dumps({"document": d, "experts": [[0, 1], [2, 3]]}) for d in ("a", "b", "a")]
    with pytest.raises(InputError, match="consecutive"):
        load_trace(_jsonl(tmp_path / "mixed.jsonl", lines))


def test_bad_native_traces_name_the_position(tmp_path):
    tr = synthetic.independent_skewed(100, n=8, k=2, seed=0, doc_tokens=50)
    bad = tr.topk.copy()
    bad[0, 17, 1] = 8
    with pytest.raises(InputError, match="token 17, layer 0: expert id 8"):
        RouterTrace(topk=bad, document=tr.document, position=tr.position, documents=tr.documents, num_experts=8, layers=[0])
    nan = tr.topk.astype(np.float32)
    nan[0, 5, 0] = np.nan
    with pytest.raises(InputError, match=r"layer 0, token 5\) is not finite"):
        RouterTrace(topk=nan, document=tr.document, position=tr.position, documents=tr.documents, num_experts=8, layers=[0])
    d = save_trace(tr, tmp_path / "t")
    (d / "trace.safetensors").write_bytes(b"\0" * 10)
    with pytest.raises(InputError, match="SHA-256"):
        load_trace(d)


def test_cli_bad_trace_exits_2_with_file_and_line(tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", [json.dumps({"document": "a", "experts": [[0, 1], [2, 3, 4]]})])
    out = subprocess.run([sys.executable, "-m", "moegauge", "coactivation", "--trace", str(path), "--out",
                          str(tmp_path / "o")], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and f"{path}:2" in out.stderr and "k = 2" in out.stderr
    assert not (tmp_path / "o").exists()


def test_cli_on_a_brought_trace_writes_every_artifact(tmp_path):
    d = save_trace(synthetic.planted_teams(4000, layers=1, seed=2, doc_tokens=1000), tmp_path / "trace")
    out = subprocess.run([sys.executable, "-m", "moegauge", "coactivation", "--trace", str(d), "--out",
                          str(tmp_path / "o"), "--shuffles", "20"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert "coactivation_structure.json" in names and "eplb_coact_load_capped_d8.json" in names
    assert "CO-ACT beats LFU in" in out.stdout


@pytest.mark.parametrize("arch", ["olmoe", "mixtral", "qwen2moe"])
def test_capture_matches_the_routers_own_choice(arch, tiny_models):
    model = tiny_models[arch]
    g = torch.Generator().manual_seed(0)
    docs = [({"domain": "x", "name": f"d{i}", "tokens": n}, torch.randint(0, 256, (n,), generator=g))
            for i, n in enumerate((40, 17, 33))]
    tr = capture_trace(model, docs, seq_len=16, batch_size=2, model_name=arch)
    assert tr.topk.shape == (2, 90, 2) and tr.router_input_rms and all(r > 0 for r in tr.router_input_rms)
    # the router's own top-k on one full window equals what the trace recorded for it
    with torch.no_grad():
        out = model(input_ids=docs[0][1][:16][None], output_router_logits=True, use_cache=False)
    for li, logits in enumerate(out.router_logits):
        assert (logits.reshape(16, -1).topk(2, dim=-1).indices.numpy() == tr.topk[li, :16]).all()
    gauss = gaussian_trace(model, tr, seed=0)
    assert gauss.topk.shape == tr.topk.shape and not (gauss.topk == tr.topk).all()
