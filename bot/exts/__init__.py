"""Cogs of the Discord bot, one module per concept; ``bot.discord_app`` loads every module here whose name
does not start with ``_``."""
