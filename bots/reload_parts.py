"""What a config reload changes while running: per changed key (as `changed_keys` names it),
the step that applies it to the running capabilities.

Every step builds the new immutable objects first (the SLA policy, the FAQ's matcher, the
canned replies, the texts) and then swaps references in the capabilities that hold them,
with no await in between: a message handled concurrently sees the old config or the new
one, never half of each. Work in flight is untouched (a running deadline keeps its due
time; the next one is counted by the new targets). A step that can't apply its key while
running raises `NeedsRestart`; the key is then named as needing a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bots.config import Config
from bots.config_departments import departments_of
from bots.config_feedback import canned_of
from bots.config_selfservice import faq_of
from bots.config_service import sla_policy
from bots.feedback import next_opening_of
from bots.reload import NeedsRestart
from bots.services import Services, rate_key
from core.feedback.texts import SurveyTexts
from core.selfservice.service import SelfServiceSettings
from core.selfservice.texts import CustomerTexts
from core.sla.policy import SlaPolicy

if TYPE_CHECKING:
    from adapters.telegram.customer import TelegramChannel
    from adapters.telegram.desk import TelegramDesk

Apply = Callable[[Config], None]
# service.* keys that only shape the policy (the job intervals need a restart).
POLICY_KEYS = ("timezone", "hours", "holidays", "targets", "per_channel", "remind_before",
               "on_duty", "acknowledgement", "title_debounce")
# selfservice.bot needs a restart: whether departments ask a new customer depends on it.
SELFSERVICE_KEYS = ("faq", "selfservice.default_language", "selfservice.texts")


@dataclass
class LiveParts:
    """The running capabilities a reload reaches, and the policy they share."""

    services: Services
    desk: TelegramDesk
    channel: TelegramChannel
    department_desks: dict[str, TelegramDesk]
    policy: SlaPolicy | None

    @classmethod
    def of(cls, services: Services, config: Config,
           telegram: tuple[TelegramDesk, TelegramChannel, dict[str, TelegramDesk]]
           ) -> dict[str, Apply]:
        """The reload table of the running `services`, started with `config`."""
        policy = _policy_of(config) if config.service else None
        return cls(services, *telegram, policy).table()

    def table(self) -> dict[str, Apply]:
        table: dict[str, Apply] = {"operators.admins": self.admins,
                                   "telegram.limits": self.telegram_limits,
                                   "vk.rate": self.vk_rate, "max.rate": self.max_rate,
                                   "canned": self.canned, "csat.texts": self.csat_texts,
                                   "abuse.texts": self.abuse_texts,
                                   "departments": self.departments}
        table.update({f"service.{key}": self.service for key in POLICY_KEYS})
        table.update(dict.fromkeys(SELFSERVICE_KEYS, self.selfservice))
        return table

    def admins(self, new: Config) -> None:
        self.services.commands.set_admins([str(a) for a in new.operators.admins])
        if self.policy is not None and new.service is not None:  # escalations name them
            self._swap_policy(_policy_of(new), new)

    def telegram_limits(self, new: Config) -> None:
        limits = new.telegram.limits
        bot_limit = rate_key("tg:bot", limits.bot)
        for group in [self.desk, *self.department_desks.values()]:
            group.set_limits(rate_key(f"tg:chat:{group.chat_id}", limits.group), bot_limit)
        self.channel.set_limits(rate_key("tg:chat:*", limits.private_chat), bot_limit)

    def vk_rate(self, new: Config) -> None:
        vk = self.services.vk
        if vk is None or new.vk is None:
            raise NeedsRestart("VK is turned on or off")
        vk.api.rate = rate_key(vk.api.rate.key, new.vk.rate)  # the same bucket, new count

    def max_rate(self, new: Config) -> None:
        parts = self.services.max
        if parts is None or new.max is None:
            raise NeedsRestart("MAX is turned on or off")
        parts.api.rate = rate_key(parts.api.rate.key, new.max.rate)

    def service(self, new: Config) -> None:
        if self.policy is None or new.service is None:
            raise NeedsRestart("service levels are turned on or off")
        self._swap_policy(_policy_of(new), new)

    def _swap_policy(self, policy: SlaPolicy, new: Config) -> None:
        self.policy = policy
        s = self.services
        if s.sla_clock is not None:
            s.sla_clock.reconfigure(policy)
        if s.sla_jobs is not None:
            s.sla_jobs.sweeper.reconfigure(policy)
        s.controls.reconfigure(policy)
        self.canned(new)  # its {{ opens }} follows the hours

    def canned(self, new: Config) -> None:
        command = self.services.feedback.canned if self.services.feedback else None
        if command is None:
            raise NeedsRestart("canned replies are not loaded")
        command.reconfigure(canned_of(new.canned), next_opening_of(self.policy))

    def csat_texts(self, new: Config) -> None:
        if self.services.feedback is None:
            raise NeedsRestart("the survey is not loaded")
        self.services.feedback.csat.reconfigure(SurveyTexts(new.csat.texts))

    def abuse_texts(self, new: Config) -> None:
        flood = self.services.feedback.flood if self.services.feedback else None
        if flood is None:
            raise NeedsRestart("flood limits are off")
        flood.reconfigure(new.abuse.slow_down_texts())

    def selfservice(self, new: Config) -> None:
        parts = self.services.selfservice
        if parts is None or not new.faq:
            raise NeedsRestart("self-service is turned on or off (an FAQ added or removed)")
        settings = new.selfservice
        service = parts.service
        service.reconfigure(service.matcher.with_faq(faq_of(new.faq)),
                            CustomerTexts(settings.texts),
                            SelfServiceSettings(service.settings.bot, settings.default_language))

    def departments(self, new: Config) -> None:
        parts = self.services.departments
        fresh = departments_of(new.departments, new.routing, new.operators.chat_id)
        if parts is None or fresh is None:
            raise NeedsRestart("departments are turned on or off")
        old = parts.departments
        if {(d.id, d.desk_chat) for d in old.all} != {(d.id, d.desk_chat) for d in fresh.all}:
            raise NeedsRestart("a department was added or removed, or its group changed")
        old.replace_with(fresh)
        if self.policy is not None and new.service is not None:  # their own hours, targets
            self._swap_policy(_policy_of(new), new)


def _policy_of(config: Config) -> SlaPolicy:
    """The service levels of `config`, each department's own laid over `service`."""
    assert config.service is not None
    return sla_policy(config.service, config.operators.admins,
                      {d.id: d for d in config.departments})
