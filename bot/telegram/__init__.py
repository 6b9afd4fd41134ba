"""The Telegram layer: updates in (handlers), answers out (delivery, notes, buttons)."""
