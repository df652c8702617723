"""cbf: Clinical-BERT vision-language pre-training for chest radiographs, as a plugin framework."""
from __future__ import annotations

__version__ = "0.1.0"


def load_pretrained_text_encoder(path):  # noqa: ANN001, ANN201 - thin re-export, typed at the source
    """A :class:`cbf.model.encoder.BertEncoder` with the weights of a local Hugging Face BERT
    checkpoint folder or file; ``encode_text`` gives its last hidden states."""
    from cbf.model.hf_checkpoint import load_pretrained_text_encoder as _load

    return _load(path)


__all__ = ["__version__", "load_pretrained_text_encoder"]
