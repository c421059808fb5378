"""Cogs of the Discord bot, one module per concept; ``bot.discord.app`` loads every module here whose name
does not start with ``_``."""
