"""A Telegram bot that generates and edits images with Gemini image models through Eden AI."""
