"""The reference LLM-marketplace sandbox and its service launcher."""
