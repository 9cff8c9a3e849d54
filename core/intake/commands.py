"""Intake's command: `/note …` stores an internal note in the conversation."""

from __future__ import annotations

from core.commands import Command, Commands, Invocation
from core.intake.operators import OperatorIntake


def register(commands: Commands, operators: OperatorIntake) -> None:
    async def note(i: Invocation) -> None:
        if i.message is not None:
            await operators.add_note(i.message)

    commands.register(Command("note", "Internal note (never sent to the customer)", note))
