"""The embedded MoE (a small OLMoE trained from scratch on the corpus) and loading of any HF causal LM.

``load_model(None)`` gives the embedded model shipped in ``moegauge/embedded/olmoe-64x8``;
``load_model("path/to/dir")`` any local Hugging Face checkpoint; ``load_model("org/name")`` a hub
model on machines that reach a hub (e.g. ``allenai/OLMoE-1B-7B-0924``). The same code path serves
all three, so what is tested here on local files is what runs on a user's machine.

Implementations are pinned: ``from_pretrained`` defaults to ``experts_implementation="grouped_mm"``
where it can, which rounds differently from the implementation the embedded model was trained and
measured with (``moegauge.lm.experts``, registered with transformers); we always load with the
implementations recorded next to the checkpoint, and ``eager`` for checkpoints that record none.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import InputError
from . import experts
from .placement import Placement, resolve_placement

EMBEDDED_NAME = "olmoe-64x8"
EMBEDDED_DIR = Path(__file__).resolve().parent.parent / "embedded" / EMBEDDED_NAME
EXPERTS_IMPLEMENTATION = experts.NAME  # what the embedded model is trained and measured with
DEFAULT_EXPERTS_IMPLEMENTATION = "eager"  # checkpoints that record no implementation
ATTN_IMPLEMENTATION = "sdpa"
IMPLEMENTATION_FILE = "moegauge_implementation.json"

#: The embedded model's architecture: OLMoE's routing geometry (64 experts, top-8) and k-norm, with a
#: byte vocabulary. 7.5M parameters: 15.1 MB in bf16.
EMBEDDED_ARCHITECTURE = dict(
    vocab_size=256,
    hidden_size=256,
    intermediate_size=32,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=4,
    max_position_embeddings=8192,
    num_experts=64,
    num_experts_per_tok=8,
    rms_norm_eps=1e-5,
    router_aux_loss_coef=0.1,  # applied per layer in training (moegauge.lm.train.per_layer_balance_loss)
    norm_topk_prob=False,
    tie_word_embeddings=False,
    pad_token_id=None,
    bos_token_id=None,
    eos_token_id=None,
    rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
)


@dataclass(frozen=True)
class LoadedModel:
    """A model with where it came from (for provenance)."""

    model: torch.nn.Module
    source: str  # "embedded", a local path, or a hub name
    local_dir: Path | None
    weight_sha256: dict[str, str]

    @property
    def config(self):
        return self.model.config


def embedded_config(**overrides):
    """An ``OlmoeConfig`` with the embedded architecture (``overrides`` for tiny test models)."""
    from transformers import OlmoeConfig

    params = {**EMBEDDED_ARCHITECTURE, **overrides}
    return OlmoeConfig(**params)


def _pin(model: torch.nn.Module, experts_impl: str, attn: str) -> torch.nn.Module:
    if hasattr(model, "set_experts_implementation"):
        try:
            model.set_experts_implementation(experts_impl)
        except (ValueError, AttributeError):  # a dense model or an architecture without the switch
            pass
    model.set_attn_implementation(attn)
    return model


def new_model(config, seed: int) -> torch.nn.Module:
    """A randomly initialised causal LM for ``config`` (the control arm, and the start of training)."""
    from transformers import AutoModelForCausalLM

    experts.register()
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    return _pin(model, EXPERTS_IMPLEMENTATION, ATTN_IMPLEMENTATION).eval()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def local_checkpoint(name_or_path: str | Path | None) -> Path | None:
    """The checkpoint directory ``load_model(name_or_path)`` reads (None for a hub name), checked:
    it has a ``config.json`` and its config and weights are readable (see :func:`check_checkpoint_files`).
    Cheap (headers only), so a CLI calls it before long work."""
    if name_or_path is None:
        if not (EMBEDDED_DIR / "config.json").is_file():
            raise InputError(EMBEDDED_DIR, "the embedded checkpoint is missing; run `python -m moegauge train`")
        local = EMBEDDED_DIR
    else:
        candidate = Path(name_or_path).expanduser()
        looks_local = candidate.exists() or str(name_or_path).startswith((".", "/", "~")) or candidate.suffix
        if not looks_local:
            return None
        local = candidate.resolve()
        if not (local / "config.json").is_file():
            raise InputError(local, "not a Hugging Face checkpoint directory (no config.json)")
    check_checkpoint_files(local)
    return local


def check_checkpoint_files(local: Path) -> None:
    """Refuse a local checkpoint whose ``config.json`` is not a JSON object or whose ``*.safetensors``
    cannot be read (corrupt, truncated): an :class:`InputError` naming the file, before transformers
    turns it into a long traceback. Reads headers only (``safe_open`` checks the sizes they declare)."""
    from safetensors import safe_open

    config = local / "config.json"
    try:
        doc = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(config, f"not a readable JSON config ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(config, "not a JSON object")
    for f in sorted(local.glob("*.safetensors")):
        try:
            with safe_open(str(f), framework="pt") as fh:
                for name in fh.keys():
                    fh.get_slice(name)
        except Exception as exc:  # safetensors' own error type, OSError, ...
            first = (str(exc).strip().splitlines() or [""])[0]
            raise InputError(f, f"not a readable safetensors file ({first})") from None


def load_model(name_or_path: str | Path | None = None, dtype: torch.dtype = torch.float32, *,
               device: str = "cpu", device_map: str | dict | None = None, max_memory: str | dict | None = None,
               offload_folder: str | Path | None = None, placement: Placement | None = None) -> LoadedModel:
    """Load a causal LM for measurement (eval mode, pinned implementations).

    ``None`` → the embedded model; an existing directory → that checkpoint; otherwise a hub name.
    A missing embedded checkpoint or an unreadable directory is an ``InputError``.

    Placement goes through transformers + accelerate: ``device`` puts the whole model on one device
    (``cpu``, ``cuda``, ``cuda:N``, ``auto``); ``device_map="auto"`` lets accelerate spread the layers
    over the GPUs, then CPU, then disk within ``max_memory`` (``{0: "20GiB", "cpu": "60GiB"}`` or
    ``"0=20GiB,cpu=60GiB"``), offloading to ``offload_folder``. ``placement`` is the already
    checked form of these (see :mod:`moegauge.lm.placement`). Callers may pass CPU ``input_ids``: a
    dispatched model moves them with accelerate's hooks, a model on one GPU through the same
    ``AlignDevicesHook`` (outputs come back on the inputs' device).
    """
    from transformers import AutoModelForCausalLM

    if placement is None:
        placement = resolve_placement(device, device_map, max_memory, offload_folder)
    local = local_checkpoint(name_or_path)
    source = "embedded" if name_or_path is None else str(name_or_path)
    experts.register()
    impl, attn = DEFAULT_EXPERTS_IMPLEMENTATION, ATTN_IMPLEMENTATION
    if local is not None and (local / IMPLEMENTATION_FILE).is_file():
        pinned = json.loads((local / IMPLEMENTATION_FILE).read_text())
        impl, attn = pinned.get("experts_implementation", impl), pinned.get("attn_implementation", attn)
    kwargs = {"dtype": dtype, "attn_implementation": attn, **placement.from_pretrained_kwargs()}
    try:
        try:
            model = AutoModelForCausalLM.from_pretrained(str(local or name_or_path), experts_implementation=impl,
                                                         **kwargs)
        except (TypeError, ValueError):  # architectures without an experts switch
            model = AutoModelForCausalLM.from_pretrained(str(local or name_or_path), **kwargs)
    except OSError as exc:
        raise InputError(str(name_or_path), f"cannot load model: {exc}".splitlines()[0]) from None
    except Exception as exc:  # noqa: BLE001 — turned into a located InputError or re-raised
        if isinstance(exc, ValueError) and placement.device_map is not None:
            # accelerate: budgets too small for the model, a missing offload folder, …
            raise InputError("--device-map", f"cannot place the model: {exc}".splitlines()[0]) from None
        if local is None:
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        raise InputError(local, f"cannot load checkpoint ({type(exc).__name__}: {first})") from None
    model = _pin(model, impl, attn).eval()
    if not placement.dispatched and placement.device != "cpu":
        from accelerate.hooks import AlignDevicesHook, add_hook_to_module

        add_hook_to_module(model, AlignDevicesHook(execution_device=placement.device, io_same_device=True))
    weights = {}
    if local is not None:
        for f in sorted(local.glob("*.safetensors")):
            weights[f.name] = _sha256_file(f)
    return LoadedModel(model=model, source=source, local_dir=local, weight_sha256=weights)


def cache_kwargs(model: torch.nn.Module, cache) -> dict:
    """Keyword arguments handing ``cache`` to ``model(...)``: transformers 5.x renamed the forward
    argument ``past_key_values`` to ``cache`` (the old name still works, with a FutureWarning per
    call); use whichever name this model's ``forward`` declares."""
    params = inspect.signature(type(model).forward).parameters
    return {"cache" if "cache" in params else "past_key_values": cache, "use_cache": True}


def kv_geometry(config) -> tuple[int, int, int]:
    """(layers, KV heads, head_dim) of a decoder config."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    return config.num_hidden_layers, kv_heads, head_dim
