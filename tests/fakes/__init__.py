"""Loopback stand-ins for Telegram's Bot API and Eden AI, and a runner for the real bot process."""
