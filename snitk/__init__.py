"""snitk: the Super-NaturalInstructions toolkit (data, prompts, T5 in Flax, training, evaluation)."""

__version__ = "0.1.0"
