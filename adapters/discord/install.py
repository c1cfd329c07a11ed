"""What a server admin grants casebot when adding it (docs/discord.md explains each)."""

from __future__ import annotations

import discord

# Everything the adapter does, and nothing more (no Mention Everyone: even a bug could
# not ping a whole server; no Administrator).
PERMISSIONS = discord.Permissions(
    view_channel=True,  # see the team channels (and the threads in them)
    send_messages=True,  # triage alerts and other team-channel messages
    send_messages_in_threads=True,  # case threads and staff threads
    create_private_threads=True,  # one private thread per case
    create_public_threads=True,  # the staff thread under each triage alert
    manage_threads=True,  # add the customer and engineer to a thread nobody else may join
    embed_links=True,  # messages are embeds
    read_message_history=True,  # start a thread from an alert; react to a message
    add_reactions=True,  # mark a customer's message as recorded on the case
)

SCOPES = ("bot", "applications.commands")


def invite_url(application_id: int) -> str:
    scopes = "+".join(SCOPES)
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope={scopes}&permissions={PERMISSIONS.value}"
    )
