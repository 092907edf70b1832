"""Chat notifications: the channel-neutral incident message, the Notifier seam, the durable
outbox delivery and the console channel (docs/chat.md). Slack and Telegram come later (issue 11).

Fed by: the runtime (not wired yet), through :class:`aiops.chat.hub.Notifications`. Consumed by:
Redis (``store.outbox``) and the configured channels.
"""
