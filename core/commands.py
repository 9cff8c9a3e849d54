"""Operator commands and buttons, in one registry.

A capability registers each of its commands once: its name, who may run it (any operator,
or only `operators.admins`), where (in a conversation's topic, or anywhere in the group),
its handler, and optionally a button under the customer card. The desk adapter only turns a
typed `/name args` or a button press into `Commands.run`; the permission and place checks
are here, once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from enum import StrEnum

from core.model import InboundOperatorMessage

logger = logging.getLogger(__name__)


class Role(StrEnum):
    OPERATOR = "operator"  # any member of the operator group
    ADMIN = "admin"  # listed in operators.admins


class Where(StrEnum):
    TOPIC = "topic"  # in a conversation's topic
    ANYWHERE = "anywhere"  # in a topic or in General


class Outcome(StrEnum):
    DONE = "done"
    UNKNOWN = "unknown"  # no such command: the adapter treats the text as a message
    DENIED = "denied"  # an admin command run by an operator who is not one
    NOT_HERE = "not_here"  # a topic command outside a topic


@dataclass(frozen=True, slots=True)
class Invocation:
    """One run of a command: who, where, with what."""

    operator_id: str
    operator_name: str
    topic_id: int | None  # None: the General topic
    args: str = ""
    pressed: bool = False  # a button, not a typed command
    # The operator's message itself, with `args` as its text (e.g. /note stores it).
    message: InboundOperatorMessage | None = None
    # The department group it was run in (None: the operator group); a topic id is only
    # unique within one group.
    desk_chat: str | None = None


Handler = Callable[[Invocation], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Button:
    label: str  # shown under the customer card
    args: str = ""  # what a press runs the command with
    answer: str = ""  # the short confirmation Telegram shows the presser
    order: int = 100  # left to right under the card


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # without the slash, lower case
    summary: str  # for the group's command menu
    handler: Handler
    role: Role = Role.OPERATOR
    where: Where = Where.TOPIC
    button: Button | None = None
    menu: bool = True  # listed in the group's command menu


class Commands:
    """The registry: capabilities register, the desk adapter runs."""

    def __init__(self, admins: Collection[str] = ()) -> None:
        self._admins = frozenset(str(a) for a in admins)
        self._commands: dict[str, Command] = {}

    def set_admins(self, admins: Collection[str]) -> None:
        """A reloaded operators.admins: the next command is checked against it."""
        self._admins = frozenset(str(a) for a in admins)

    def register(self, command: Command) -> None:
        if command.name in self._commands:
            raise ValueError(f"command /{command.name} is registered twice")
        self._commands[command.name] = command

    def get(self, name: str) -> Command | None:
        return self._commands.get(name.lower())

    def menu(self) -> list[Command]:
        return [c for c in self._commands.values() if c.menu]

    def buttons(self) -> list[Command]:
        """Commands with a button under the card, left to right."""
        with_buttons = [c for c in self._commands.values() if c.button is not None]
        return sorted(with_buttons, key=lambda c: c.button.order if c.button else 0)

    def is_admin(self, operator_id: str) -> bool:
        return operator_id in self._admins

    async def run(self, name: str, invocation: Invocation) -> Outcome:
        command = self.get(name)
        if command is None:
            return Outcome.UNKNOWN
        if command.where is Where.TOPIC and invocation.topic_id is None:
            return Outcome.NOT_HERE
        if command.role is Role.ADMIN and not self.is_admin(invocation.operator_id):
            logger.info("/%s refused to %s: admins only", command.name,
                        invocation.operator_id)
            return Outcome.DENIED
        await command.handler(invocation)
        return Outcome.DONE

    async def press(self, name: str, invocation: Invocation) -> tuple[Outcome, str]:
        """A button press: the command with its button's arguments, and the answer."""
        command = self.get(name)
        if command is None or command.button is None:
            return Outcome.UNKNOWN, ""
        pressed = Invocation(invocation.operator_id, invocation.operator_name,
                             invocation.topic_id, command.button.args, pressed=True,
                             desk_chat=invocation.desk_chat)
        outcome = await self.run(name, pressed)
        return outcome, command.button.answer if outcome is Outcome.DONE else ""
