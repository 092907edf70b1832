"""Chat: incident messages in Slack, Telegram and the terminal, and approvals by button (docs/chat.md).

The channel-neutral incident message (``message``), the Notifier seam (``notifier``), the durable
outbox delivery (``delivery``, ``limits``, ``hub``), the feed that republishes an incident when it
changes (``feed``), the click seam and its handler (``clicks``, ``decide``), and the channels:
``console``, ``slack`` and ``telegram``.

Fed by: the runtime (``aiops.runtime.chat``), whose hooks on the deduplicator, the run store, the
enrichment store and the approval gate touch the feed; the chat services' interactions (clicks).
Consumed by: Redis (``store.outbox``), the chat services' APIs, and the approval gate and executor
(through :class:`aiops.chat.decide.Decider`).
"""
