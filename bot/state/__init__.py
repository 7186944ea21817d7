"""The bot's state store (interface and backends): filled in by the durable-journal work."""
