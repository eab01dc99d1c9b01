"""crossalign: cross-lingual alignment after pre-training (AFP) for any causal LM.

Align a Hugging Face causal LM with translation pairs, evaluate few-shot in-context
learning across languages, and analyse how its multilingual representations change.

    from crossalign import Encoder     # sentence embeddings at one layer (crossalign.model.encoder)
"""

__version__ = "0.1.0"
__all__ = ["Encoder", "__version__"]


def __getattr__(name: str):
    # Imported on first use: `crossalign --help` reads __version__ and must not pay for torch.
    if name == "Encoder":
        from crossalign.model.encoder import Encoder

        return Encoder
    raise AttributeError(f"module 'crossalign' has no attribute {name!r}")
