"""The bot's records in SQLite or PostgreSQL: the storage contract, its queries and drivers."""
