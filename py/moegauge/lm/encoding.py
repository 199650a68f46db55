"""Text → token windows for a model, with the number of bytes each window covers.

The embedded model reads bytes (vocabulary 256: one token per byte). A hub model such as
OLMoE-1B-7B has its own tokenizer; its windows are runs of tokenizer ids, and the bytes a window
covers are counted by decoding it, so bits per byte are comparable across both.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .corpus import windows


@dataclass(frozen=True)
class Windows:
    """Token windows [n, L] and the UTF-8 bytes of text they cover (all n windows together)."""

    tokens: torch.Tensor
    covered_bytes: int


class ByteEncoder:
    """One token per byte."""

    name = "bytes"

    def windows(self, data: bytes, length: int, limit: int | None = None) -> Windows:
        tokens = windows(data, length, limit)
        return Windows(tokens, tokens.numel())


class TokenizerEncoder:
    """A Hugging Face tokenizer (for models with a subword vocabulary)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.name = getattr(tokenizer, "name_or_path", type(tokenizer).__name__)

    def windows(self, data: bytes, length: int, limit: int | None = None) -> Windows:
        ids = self.tokenizer(data.decode("utf-8", errors="replace"), add_special_tokens=False)["input_ids"]
        n = len(ids) // length if limit is None else min(len(ids) // length, limit)
        tokens = torch.tensor(ids[: n * length], dtype=torch.int64).view(n, length)
        covered = sum(len(self.tokenizer.decode(row.tolist()).encode("utf-8")) for row in tokens)
        return Windows(tokens, covered)


def encoder_for(model, source_dir_or_name) -> ByteEncoder | TokenizerEncoder:
    """Bytes for a 256-token vocabulary, else the tokenizer saved with the model."""
    if model.config.vocab_size == 256:
        return ByteEncoder()
    from transformers import AutoTokenizer

    return TokenizerEncoder(AutoTokenizer.from_pretrained(str(source_dir_or_name)))
