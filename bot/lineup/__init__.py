"""The Gemini image models: what each can do and costs, and which ones Eden still lists."""
