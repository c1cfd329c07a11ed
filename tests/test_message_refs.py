"""Messages edited in place follow the message people can actually see: when a platform
had to post an update anew (the old message was deleted), later edits go to the new one,
and each notification carries a delivery id that is stable across its retries."""

from __future__ import annotations

from datetime import timedelta

from bot.messages import Kind, Message
from bot.ports import DeliveryContext, DeliveryError, PlatformRef
from storage.db import Database
from tests.harness import Dialog, RecordingPlatform


class RepostingPlatform(RecordingPlatform):
    """Like the console, except that the first edit of each message finds it deleted
    and posts it anew, and the first attempt at every delivery fails once."""

    def __init__(self) -> None:
        super().__init__()
        self.reposted: dict[str, PlatformRef] = {}
        self.attempts: dict[str | None, int] = {}

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        self.attempts[ctx.delivery_id] = self.attempts.get(ctx.delivery_id, 0) + 1
        if self.attempts[ctx.delivery_id] == 1:
            raise DeliveryError("connection reset", retry_after=0)
        if message.update and message.ref and ctx.previous and message.ref not in self.reposted:
            fresh = PlatformRef(
                ctx.previous.channel, f"re-{ctx.previous.message_id}", ctx.previous.thread_id
            )
            self.reposted[message.ref] = fresh
            return fresh
        if message.update and message.ref in self.reposted:
            assert ctx.previous == self.reposted[message.ref]
        return await super().deliver(message, ctx)


async def test_edits_follow_a_message_that_was_posted_anew(db: Database) -> None:
    d = await Dialog.start(db)
    platform = RepostingPlatform()
    d.bot.runtime.platforms.clear()
    d.bot.register_adapter(platform)
    d.platform = platform
    reply = await d.say("gus", "/case open Webhooks fail after token rotation")
    assert reply.ok, reply.text
    key = reply.case_key or "CASE-1"
    await _retry_everything(d)
    assert (await d.say("alice", f"/case replicating {key}")).ok  # auto-assigned by skill
    await _retry_everything(d)
    # The customer's case message was reposted on its first edit; the next edit (after
    # replicating) was handed the new location, which the platform asserted.
    assert f"case:{key}" in platform.reposted
    # Each notification kept one delivery id across its failed and its good attempt:
    # two attempts per id, one delivery per id.
    assert None not in platform.attempts
    assert set(platform.attempts.values()) == {2}
    assert len(platform.deliveries) + len(platform.reposted) == len(platform.attempts)
    assert Kind.CASE_UPDATE in {x.message.kind for x in platform.deliveries}
    assert await d.bot.runtime.failed_outbox() == []


async def _retry_everything(d: Dialog) -> None:
    """Let the backoff of every failed first attempt pass, delivering as we go."""
    for _ in range(6):
        await d.bot.drain()
        d.clock.advance(timedelta(minutes=10))
    await d.bot.drain()
