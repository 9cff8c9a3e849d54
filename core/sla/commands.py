"""The service-level commands: `/snooze` (and its button), `/report`."""

from __future__ import annotations

from core.commands import Button, Command, Commands, Invocation, Where
from core.sla.controls import SlaControls


def register(commands: Commands, controls: SlaControls) -> None:
    async def snooze(i: Invocation) -> None:
        assert i.topic_id is not None
        await controls.snooze(i.topic_id, i.operator_name, i.args, desk_chat=i.desk_chat)

    async def report(i: Invocation) -> None:
        # In General, or in a topic (posted where it was asked).
        await controls.report(i.args.strip().lower() or "today", i.topic_id,
                              desk_chat=i.desk_chat)

    commands.register(Command("snooze", "/snooze 2h: postpone this conversation's deadlines",
                              snooze, menu=False,
                              button=Button("💤 1h", args="1h", answer="Snoozed for 1 hour",
                                            order=20)))
    commands.register(Command("report", "/report today|week|month", report,
                              where=Where.ANYWHERE, menu=False))
