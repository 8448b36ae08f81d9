"""Model access: the OpenAI-compatible streaming client, the models file, the local llama-server and tiny GGUF."""

from __future__ import annotations
