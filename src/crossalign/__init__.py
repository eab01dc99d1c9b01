"""crossalign: cross-lingual alignment after pre-training (AFP) for any causal LM.

Align a Hugging Face causal LM with translation pairs, evaluate few-shot in-context
learning across languages, and analyse how its multilingual representations change.
"""

__version__ = "0.1.0"
