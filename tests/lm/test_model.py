"""Model loading: pinned implementations, bit-identical reloads, clear errors."""

from __future__ import annotations

import json

import pytest
import torch

from moegauge.errors import InputError
from moegauge.lm.model import EMBEDDED_DIR, EXPERTS_IMPLEMENTATION, IMPLEMENTATION_FILE, load_model
from moegauge.lm.train import TrainRecipe, train

TINY = (("hidden_size", 32), ("intermediate_size", 16), ("num_hidden_layers", 1), ("num_experts", 4),
        ("num_experts_per_tok", 2))


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt") / "olmoe"
    report = train(TrainRecipe(steps=4, save_every=2, eval_every=2, eval_windows=1, max_bytes_per_domain=100_000,
                               architecture_overrides=TINY), out, log=lambda s: None)
    return out, report


def test_train_saves_a_complete_checkpoint(tiny_checkpoint):
    out, report = tiny_checkpoint
    for name in ("config.json", "model.safetensors", IMPLEMENTATION_FILE, "training.json", "MODEL_CARD.md"):
        assert (out / name).is_file(), name
    assert json.loads((out / IMPLEMENTATION_FILE).read_text())["experts_implementation"] == EXPERTS_IMPLEMENTATION
    card = (out / "MODEL_CARD.md").read_text()
    for domain, bpb in report["heldout_bits_per_byte"].items():
        assert f"| {domain} | {bpb:.3f} |" in card  # the card's numbers come from the report
    assert not (out.parent / (out.name + ".train-state.pt")).exists()


def test_reloading_gives_bit_identical_logits(tiny_checkpoint):
    out, _ = tiny_checkpoint
    ids = torch.randint(0, 256, (2, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = load_model(out).model(input_ids=ids).logits
        b = load_model(out).model(input_ids=ids).logits
    assert torch.equal(a, b)


def test_training_resumes_from_saved_state(tmp_path):
    out = tmp_path / "m"
    recipe = TrainRecipe(steps=4, save_every=2, eval_every=100, eval_windows=1, max_bytes_per_domain=100_000,
                         architecture_overrides=TINY)
    logs: list[str] = []

    class Stop(Exception):
        pass

    def stop_after_state(msg: str) -> None:
        logs.append(msg)

    # Simulate a crash right after the step-2 state is saved, by interrupting the log at step 3.
    import moegauge.lm.train as tr

    original = tr._batch
    calls = {"n": 0}

    def crash(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Stop
        return original(*a, **k)

    tr._batch = crash
    try:
        with pytest.raises(Stop):
            train(recipe, out, log=stop_after_state)
    finally:
        tr._batch = original
    assert (tmp_path / "m.train-state.pt").is_file() and not out.exists()
    report = train(recipe, out, log=logs.append)
    assert any("resuming from step 2" in m for m in logs)
    uninterrupted = train(recipe, tmp_path / "ref", log=lambda s: None)
    assert report["history"][-1]["loss"] == uninterrupted["history"][-1]["loss"]


def test_missing_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no config.json"):
        load_model(tmp_path)


def test_embedded_model_has_olmoes_routing_geometry_and_a_healthy_router():
    import json

    from moegauge.lm.train import model_card

    cfg = json.loads((EMBEDDED_DIR / "config.json").read_text())
    assert (cfg["model_type"], cfg["num_experts"], cfg["num_experts_per_tok"]) == ("olmoe", 64, 8)
    assert cfg["num_hidden_layers"] >= 4 and cfg["vocab_size"] == 256
    report = json.loads((EMBEDDED_DIR / "training.json").read_text())
    assert report["router_health"] and all(h["dead_fraction"] == 0 for h in report["router_health"])
    # the card is generated from the report, never edited by hand
    assert (EMBEDDED_DIR / "MODEL_CARD.md").read_text() == model_card(report)


def test_embedded_checkpoint_is_small_and_reloads_identically():
    assert (EMBEDDED_DIR / "model.safetensors").stat().st_size <= 16 * 1024 * 1024
    ids = torch.arange(64).unsqueeze(0) + 32
    with torch.no_grad():
        a = load_model(None).model(input_ids=ids).logits
        b = load_model(None).model(input_ids=ids).logits
    assert torch.equal(a, b)
