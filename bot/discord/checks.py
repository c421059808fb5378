"""Who may run the moderator and maintainer commands, enforced in code on every invocation.

``default_permissions`` only decides who *sees* a command by default and a server can change it,
so each gated command also carries one of these ``app_commands.check`` predicates:
moderators have Manage Server (or Administrator) or the configured moderator role; maintainers have
Administrator or the configured maintainer role. Failing raises ``NotAllowed``, whose message the
error handler shows the member.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import discord
from discord import app_commands

logger = logging.getLogger(__name__)


class NotAllowed(app_commands.CheckFailure):
    """A check failed; the message says what would be needed."""


def _has_role(interaction: discord.Interaction, role: str | None) -> bool:
    """The configured role, by name or id (a name can be renamed, an id is pasted from Discord)."""
    if not role or not isinstance(interaction.user, discord.Member):
        return False
    return any(r.name == role or str(r.id) == role for r in interaction.user.roles)


def _settings(interaction: discord.Interaction):
    return interaction.client.settings.discord


def is_maintainer(interaction: discord.Interaction) -> bool:
    return interaction.permissions.administrator or _has_role(interaction, _settings(interaction).maintainer_role)


def is_moderator(interaction: discord.Interaction) -> bool:
    permissions = interaction.permissions
    return (
        permissions.manage_guild
        or permissions.administrator
        or _has_role(interaction, _settings(interaction).moderator_role)
    )


def _needs(what: str, role: str | None) -> str:
    return f"This command needs {what}" + (f" or the “{role}” role." if role else ".")


def _moderator_predicate(interaction: discord.Interaction) -> bool:
    if is_moderator(interaction) or is_maintainer(interaction):
        return True
    raise NotAllowed(_needs("the Manage Server permission", _settings(interaction).moderator_role))


def _maintainer_predicate(interaction: discord.Interaction) -> bool:
    if is_maintainer(interaction):
        return True
    raise NotAllowed(_needs("the Administrator permission", _settings(interaction).maintainer_role))


def moderator_only() -> Callable:
    """Moderators (and maintainers, who may do everything moderators may); server only. The default
    permission only hides the command from others; the check is what refuses them."""
    return _gate(_moderator_predicate, discord.Permissions(manage_guild=True))


def maintainer_only() -> Callable:
    return _gate(_maintainer_predicate, discord.Permissions(administrator=True))


def _gate(predicate: Callable[[discord.Interaction], bool], visible_to: discord.Permissions) -> Callable:
    def decorate(callback: Callable) -> Callable:
        callback = app_commands.check(predicate)(callback)
        callback = app_commands.default_permissions(visible_to)(callback)
        return app_commands.guild_only()(callback)

    return decorate
