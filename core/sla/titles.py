"""The status emoji in a conversation's topic title, changed sparingly.

Renames share the operator group's flood budget with every relayed message, so they are
debounced (a title changes only after its status held still for a while), limited per run,
and made only while the group's window has headroom: a rename never delays a delivery.
"""

from __future__ import annotations

import logging

from core import texts
from core.clock import Clock
from core.delivery.desks import Desks
from core.delivery.ratelimit import SlidingWindowLimiter
from core.errors import NotModified, TopicClosed, TopicMissing
from core.ports import DeskPort
from core.sla.ports import SlaStore

logger = logging.getLogger(__name__)

MARKS = {"waiting": "🟡", "overdue": "🔴", "answered": "🟢"}


def marked_title(mark: str, name: str, channel: str, customer_id: int) -> str:
    return f"{mark} {texts.topic_title(name, channel, customer_id)}"[: texts.TITLE_LIMIT]


class TitleKeeper:
    def __init__(self, sla: SlaStore, desk: DeskPort, limiter: SlidingWindowLimiter,
                 clock: Clock, per_run: int = 3, desks: Desks | None = None) -> None:
        self._sla = sla
        self._desk = desk
        self._desks = desks or Desks(desk)
        self._limiter = limiter
        self._clock = clock
        self._per_run = per_run

    def _headroom(self) -> int:
        """Rename only while a quarter of the tightest window is still free."""
        return max(1, min(k.count for k in self._desk.rate_keys()) // 4 + 1)

    async def run(self) -> int:
        """Apply up to `per_run` due title changes; returns how many were renamed."""
        done = 0
        for work in await self._sla.titles_due(self._clock.now(), self._per_run):
            desk = self._desks.by_chat(work.desk_chat)  # the group of the topic
            keys = desk.rate_keys()
            recorded = await self._limiter.take_if_idle(keys, self._headroom())
            if recorded is None:
                break  # deliveries first; the title waits for the next run
            title = marked_title(work.want, work.name, work.channel, work.customer_id)
            try:
                await desk.rename_topic(work.topic_id, title)
                done += 1
            except (NotModified, TopicMissing, TopicClosed):
                pass  # nothing to change, or no topic to change: settled either way
            except Exception:
                logger.warning("renaming topic %s failed; retried later", work.topic_id,
                               exc_info=True)
                break
            finally:
                self._limiter.settle(keys, 1, recorded)
            await self._sla.title_applied(work.conversation_id, work.want)
        return done
