"""Where a model's weights live: one device, or a transformers + accelerate device map with offload.

A :class:`Placement` is what ``--device``, ``--device-map``, ``--max-memory`` and ``--offload-folder``
say, checked before anything is loaded. It becomes the keyword arguments of
``from_pretrained(..., device_map=..., max_memory=..., offload_folder=...)``: accelerate decides which
layers go to which GPU, to CPU or to disk, and its hooks move activations between them. Nothing here
shards a model by hand.

Placement does not change the numbers on one kind of device beyond kernel rounding (the same weights,
the same dtype, the same operations), so it is kept out of the configuration that decides whether
evidence is fresh; the storage dtype does change them and is part of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import InputError

DEVICES = ("cpu", "cuda", "auto")
DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")
DTYPES = ("float32", "bfloat16", "float16")

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str, field: str = "--max-memory") -> int:
    """Bytes in ``"20GiB"``, ``"512MB"``, ``"1.5GiB"`` or a plain byte count."""
    m = _SIZE.match(text)
    if m is None:
        raise InputError(field, f"{text!r} is not a size (examples: 20GiB, 512MB, 1000000)")
    value = float(m.group(1)) * _UNITS[(m.group(2) or "B").lower()]
    if value <= 0:
        raise InputError(field, f"{text!r}: a memory budget must be positive")
    return int(value)


def parse_max_memory(text: str) -> dict[int | str, int]:
    """``"0=20GiB,1=20GiB,cpu=60GiB"`` → ``{0: 21474836480, 1: ..., "cpu": ...}`` (accelerate's form).

    Keys are GPU indices, ``cpu``, ``mps`` or ``disk``; each appears once."""
    out: dict[int | str, int] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, size = item.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise InputError("--max-memory", f"{item!r} is not DEVICE=SIZE (example: 0=20GiB,cpu=60GiB)")
        if key.isdigit():
            device: int | str = int(key)
        elif key in ("cpu", "mps", "disk"):
            device = key
        else:
            raise InputError("--max-memory", f"{key!r} is not a device (a GPU index, cpu, mps or disk)")
        if device in out:
            raise InputError("--max-memory", f"device {key!r} is given twice")
        out[device] = parse_size(size.strip())
    if not out:
        raise InputError("--max-memory", "empty; expected DEVICE=SIZE[,DEVICE=SIZE…] (example: 0=20GiB,cpu=60GiB)")
    return out


@dataclass(frozen=True)
class Placement:
    """Validated placement of a model's weights (see the module docstring)."""

    device: str = "cpu"  # "cpu", "cuda", "cuda:N", or "auto" (CUDA when present, else CPU)
    device_map: str | dict | None = None  # accelerate's strategies ("auto", …) or an explicit map
    max_memory: dict | None = None
    offload_folder: Path | None = None

    def from_pretrained_kwargs(self) -> dict:
        """Keyword arguments for ``from_pretrained`` (empty for a plain CPU load)."""
        if self.device_map is not None:
            kwargs: dict = {"device_map": self.device_map}
            if self.max_memory is not None:
                kwargs["max_memory"] = self.max_memory
            if self.offload_folder is not None:
                kwargs["offload_folder"] = str(self.offload_folder)
            return kwargs
        if self.device == "cpu":
            return {}
        return {"device_map": {"": self.device}}

    @property
    def dispatched(self) -> bool:
        """Whether accelerate may spread the model (a device map), as opposed to one device."""
        return self.device_map is not None


def resolve_placement(device: str = "cpu", device_map: str | None = None, max_memory: str | dict | None = None,
                      offload_folder: str | Path | None = None) -> Placement:
    """Check the flags against this machine and turn them into a :class:`Placement`.

    ``--device cuda`` without CUDA, an unknown device, a malformed ``--max-memory`` or budgets
    without ``--device-map`` are :class:`InputError` (exit 2), before any weight is read."""
    dev = (device or "cpu").strip().lower()
    cuda_n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if dev == "auto":
        dev = "cuda" if cuda_n else "cpu"
    m = re.fullmatch(r"cuda(?::(\d+))?", dev)
    if m:
        if not cuda_n:
            raise InputError("--device", f"{device!r} asked for, but no CUDA device is available "
                                         "(this torch build or machine has none); use --device cpu")
        if m.group(1) is not None and int(m.group(1)) >= cuda_n:
            raise InputError("--device", f"{device!r}: only {cuda_n} CUDA device(s) here")
    elif dev != "cpu":
        raise InputError("--device", f"{device!r} is not one of cpu, cuda, cuda:N, auto")
    if isinstance(max_memory, str):
        max_memory = parse_max_memory(max_memory)
    if max_memory is not None:
        gpus = [k for k in max_memory if isinstance(k, int)]
        if any(k >= cuda_n for k in gpus):
            raise InputError("--max-memory", f"names GPU {max(gpus)}, but this machine has {cuda_n} CUDA device(s)")
    if device_map is None and (max_memory is not None or offload_folder is not None):
        raise InputError("--max-memory" if max_memory is not None else "--offload-folder",
                         "only applies with --device-map (accelerate places the layers under these budgets)")
    if isinstance(device_map, str) and device_map not in DEVICE_MAPS:
        raise InputError("--device-map", f"{device_map!r} is not one of {', '.join(DEVICE_MAPS)}")
    folder = Path(offload_folder).expanduser() if offload_folder is not None else None
    if folder is not None and folder.exists() and not folder.is_dir():
        raise InputError(folder, "--offload-folder exists and is not a directory")
    return Placement(device=dev, device_map=device_map, max_memory=max_memory, offload_folder=folder)


def input_device(model: torch.nn.Module) -> torch.device:
    """Where ``input_ids`` must go: the device of the input embedding's weight (``model.device`` for
    models on one device). Under a device map with offload the embedding may live on ``meta`` or
    ``disk``; accelerate's hook then runs it on its execution device, and CPU inputs are right."""
    emb = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    hook = getattr(emb, "_hf_hook", None)
    if hook is not None and getattr(hook, "execution_device", None) is not None:
        return torch.device(hook.execution_device)
    weight = getattr(emb, "weight", None)
    if weight is not None and weight.device.type != "meta":
        return weight.device
    dev = getattr(model, "device", torch.device("cpu"))
    return torch.device("cpu") if dev.type == "meta" else dev


def add_placement_args(parser, dtype_default: str = "float32", dtype_help: str = "") -> None:
    """``--device``, ``--device-map``, ``--max-memory``, ``--offload-folder``, ``--model-dtype``."""
    parser.add_argument("--device", default="cpu",
                        help="where the model runs: cpu (default), cuda, cuda:N, or auto (CUDA when present)")
    parser.add_argument("--device-map", default=None, choices=DEVICE_MAPS,
                        help="let transformers + accelerate spread the layers over the GPUs, then CPU, then "
                             "disk (auto); with --max-memory and --offload-folder")
    parser.add_argument("--max-memory", default=None,
                        help="per-device budgets for --device-map, e.g. 0=20GiB,1=20GiB,cpu=60GiB")
    parser.add_argument("--offload-folder", default=None, type=Path,
                        help="where --device-map offloads layers that fit nowhere else (disk)")
    parser.add_argument("--model-dtype", default=dtype_default, choices=DTYPES,
                        help=f"dtype the weights are loaded in (default {dtype_default}; bfloat16 halves the "
                             f"memory of a hub model){dtype_help}")


def placement_from_args(args) -> Placement:
    return resolve_placement(args.device, args.device_map, args.max_memory, args.offload_folder)
