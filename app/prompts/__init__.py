"""Prompt registry: load, hash, store, render and diff the templates in the top-level prompts/ folder."""
