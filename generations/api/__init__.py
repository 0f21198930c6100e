"""The studio's HTTP API for scripts and tools (docs/api.md): `/api/v1/` (v1.py), and an
OpenAI-style `/v1/video/generations` (openai.py), both with personal access tokens."""
