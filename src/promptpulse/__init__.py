"""PromptPulse: self-hosted analytics and performance tracking for LLM prompts in production."""

__version__ = "0.1.0"
