"""One canonical name per provider, so filters, breakdowns and prices agree whoever sent the call.

Canonical names are the provider ids of the bundled genai-prices data (what prices are looked up
by). Instrumentations name providers their own way: OpenTelemetry's `gen_ai.provider.name`
(`gcp.gen_ai`, `aws.bedrock`, `x_ai`), the Vercel AI SDK's `<provider>.<api>` (`openai.chat`,
`anthropic.messages`, `google.generative-ai`), LiteLLM's (`vertex_ai`, `together_ai`), old tools'
capitals (`OpenAI`). Used by ingest for every call (REST, SDKs and OTLP alike).
"""

from __future__ import annotations

_ALIASES: dict[str, tuple[str, ...]] = {
    "openai": ("openai", "openai.chat", "openai.responses", "openai.completion",
               "openai.embedding", "openai.image", "openai.transcription"),
    "azure": ("azure", "azure.ai.openai", "az.ai.openai", "azure.ai.inference", "azure_openai",
              "azure-openai", "azure.chat", "azure.responses", "azure.embedding"),
    "anthropic": ("anthropic", "anthropic.messages", "anthropic.chat"),
    "google": ("google", "gcp.gen_ai", "gcp.gemini", "gcp.vertex_ai", "google.generative-ai",
               "google.vertex", "google.vertex.chat", "vertex_ai", "vertexai", "gemini",
               "google_genai", "google.genai", "google-vertex"),
    "aws": ("aws", "aws.bedrock", "bedrock", "amazon-bedrock", "amazon.bedrock", "aws_bedrock",
            "aws-bedrock"),
    "x-ai": ("x-ai", "x_ai", "xai", "xai.chat", "xai.responses"),
    "mistral": ("mistral", "mistral_ai", "mistralai", "mistral.chat", "mistral.embedding"),
    "cohere": ("cohere", "cohere.chat", "cohere.embedding"),
    "groq": ("groq", "groq.chat"),
    "deepseek": ("deepseek", "deepseek.chat"),
    "together": ("together", "together_ai", "together-ai", "togetherai", "togetherai.chat"),
    "fireworks": ("fireworks", "fireworks_ai", "fireworks-ai", "fireworks.chat"),
    "perplexity": ("perplexity", "perplexity.chat"),
    "cerebras": ("cerebras", "cerebras.chat"),
    "openrouter": ("openrouter", "openrouter.chat"),
}  # fmt: skip
PROVIDER_ALIASES: dict[str, str] = {
    alias: canonical for canonical, aliases in _ALIASES.items() for alias in aliases
}


def canonical_provider(name: str | None) -> str | None:
    """The canonical name of a provider as any tool spells it; unknown names lower-cased."""
    if name is None:
        return None
    key = name.strip().lower()
    if not key:
        return None
    found = PROVIDER_ALIASES.get(key)
    if found is None and "." in key:
        # The Vercel AI SDK's `<provider>.<api>` for APIs not listed above.
        found = PROVIDER_ALIASES.get(key.split(".", 1)[0])
    return found or key
