"""The config file's sections as frozen pydantic models (unknown keys are rejected).

The `service` section is in ``bots.config_service``, the `outbox` section in
``bots.config_outbox``, the shared field types in ``bots.config_types``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from bots.config_departments import DepartmentConfig, RoutingConfig, check_departments
from bots.config_errors import issue
from bots.config_feedback import (
    AbuseConfig,
    CannedReplyConfig,
    CsatConfig,
    check_canned_names,
)
from bots.config_http import HttpConfig
from bots.config_max import MaxConfig
from bots.config_outbox import OutboxConfig
from bots.config_selfservice import FaqEntryConfig, SelfServiceConfig, check_unique_ids
from bots.config_service import ServiceConfig
from bots.config_storage import STORAGE_HINT, StorageConfig
from bots.config_types import Duration, Int, RateLimit, Section, UserId, api_server_url
from bots.config_vk import (
    CALLBACK_HINT,
    VkCallbackConfig,
    normal_vk_mode,
)
from bots.config_vk import (
    MODE_HINT as VK_MODE_HINT,
)
from bots.config_web import WebConfig
from bots.config_webhook import (
    WEBHOOK_HINT,
    TelegramWebhookConfig,
    public_url_problem,
    route_problem,
)

TOKEN_HINT = (
    "get a token from @BotFather in Telegram, or run `relaydesk sandbox --demo` to try "
    "relaydesk without one"
)
CHAT_ID_HINT = "add the bot to your forum supergroup and use its id, e.g. -1001234567890"
PATH_HINTS: dict[str, str] = {
    "telegram": "add a 'telegram:' section with at least 'token:'",
    "telegram.token": TOKEN_HINT,
    "telegram.mode": ("polling (the default) needs no public address; webhook needs "
                      "telegram.webhook and http.public_url"),
    "telegram.api_server": "e.g. https://api.telegram.org, or a self-hosted Bot API server",
    "telegram.poll_timeout": "Telegram long polling waits between 1s and 50s",
    "operators": "add an 'operators:' section with 'chat_id:' (your forum supergroup id)",
    "operators.chat_id": CHAT_ID_HINT,
    "operators.admins": "a list of numeric Telegram user ids, e.g. [123456789]",
    "operators.admins[*]": "use numeric Telegram user ids (e.g. 123456789), not @usernames",
    "storage.url": STORAGE_HINT,
    "vk.token": "a community token: community → Manage → API usage → Access tokens (with "
    "messages, photos and docs rights)",
    "vk.group_id": "the community's numeric id (club123456 → 123456), not the negative peer id",
    "vk.api_server": "e.g. https://api.vk.ru, or the sandbox emulator's address",
    "vk.mode": VK_MODE_HINT,
}
# Values people paste from docs and templates: the Bot API manual's example token, the one
# from Telegram's "Bots: an introduction for developers", and the usual stand-ins.
_PLACEHOLDER_TOKENS = frozenset(
    {
        "123456:abc-def1234ghikl-zyx57w2v1u123ew11",
        "110201543:aahdqtcvch1vgwjxfseofsas0k5paldsaw",
        "token",
        "bot_token",
        "telegram_bot_token",
        "secret",
        "todo",
        "null",
    }
)
_PLACEHOLDER_WORDS = ("your", "change", "replace", "example", "placeholder")
_TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")
_TOKEN_IN_PATH = re.compile(r"/bot\d+:")
_SUPERGROUP_ID_BELOW = -1_000_000_000_000  # Bot API: supergroup id = -(10**12 + channel id)


# --- text normalisers -----------------------------------------------------------------------


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


# --- telegram -------------------------------------------------------------------------------


def _check_mode(value: object) -> object:
    return _lower(value)


class TelegramLimits(Section):
    """Telegram's documented send limits; tests shrink the windows."""

    private_chat: RateLimit = RateLimit(count=10, per=timedelta(seconds=10))
    group: RateLimit = RateLimit(count=20, per=timedelta(minutes=1))
    bot: RateLimit = RateLimit(count=30, per=timedelta(seconds=1))


class TelegramConfig(Section):
    """The Telegram bot: its token and how to reach the Bot API."""

    token: SecretStr
    api_server: str = "https://api.telegram.org"
    mode: Annotated[Literal["polling", "webhook"], BeforeValidator(_check_mode)] = "polling"
    webhook: TelegramWebhookConfig | None = None
    poll_timeout: Duration = Field(
        default=timedelta(seconds=25), ge=timedelta(seconds=1), le=timedelta(seconds=50)
    )
    request_timeout: Duration = Field(
        default=timedelta(seconds=30), ge=timedelta(seconds=1), le=timedelta(minutes=5)
    )
    limits: TelegramLimits = TelegramLimits()

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if not token:
            raise issue("is empty", TOKEN_HINT)
        if _is_placeholder_token(token):
            raise issue("is an example value, not a real bot token", TOKEN_HINT)
        if not _TOKEN_SHAPE.fullmatch(token):
            raise issue(
                "does not look like a bot token (expected <bot id>:<secret> from @BotFather)",
                TOKEN_HINT,
            )
        return SecretStr(token)

    @field_validator("api_server")
    @classmethod
    def _check_api_server(cls, value: str) -> str:
        # Checked first: the URL of a pasted request may be no URL at all ("http//…").
        if _TOKEN_IN_PATH.search(urlsplit(value.strip()).path):
            raise issue(
                "must not contain the bot token",
                "put only the server address here, e.g. https://api.telegram.org; "
                "the token goes in telegram.token",
            )
        return api_server_url(value, "telegram")[0]

    @model_validator(mode="after")
    def _check_webhook(self) -> TelegramConfig:
        problem = route_problem("telegram", "webhook", self.mode, self.webhook, WEBHOOK_HINT)
        if problem is not None:
            raise problem
        return self


def _is_placeholder_token(token: str) -> bool:
    lowered = token.lower()
    if lowered in _PLACEHOLDER_TOKENS or lowered.startswith("<") or lowered.endswith(">"):
        return True
    secret = token.partition(":")[2] or token
    if set(secret.lower()) <= {"x", ".", "*"}:
        return True
    # A real secret is random mixed-case text that could contain "your" by chance; template
    # text is words in one case ("YOUR_TOKEN", "paste-your-token-here").
    random_looking = all(
        any(test(char) for char in secret) for test in (str.isupper, str.islower, str.isdigit)
    )
    return not random_looking and any(word in lowered for word in _PLACEHOLDER_WORDS)


# --- vk -------------------------------------------------------------------------------------


class VkConfig(Section):
    """The VK community: customers write to its messages (Bots Long Poll, API 5.199)."""

    enabled: bool = True
    token: SecretStr | None = None
    group_id: Int | None = Field(default=None, gt=0)
    api_server: str = "https://api.vk.ru"
    mode: Annotated[Literal["long_poll", "callback"],
                    BeforeValidator(normal_vk_mode)] = "long_poll"
    callback: VkCallbackConfig | None = None
    poll_wait: Duration = Field(
        default=timedelta(seconds=25), ge=timedelta(seconds=1), le=timedelta(seconds=90)
    )
    request_timeout: Duration = Field(
        default=timedelta(seconds=30), ge=timedelta(seconds=1), le=timedelta(minutes=5)
    )
    rate: RateLimit = RateLimit(count=20, per=timedelta(seconds=1))
    profile_ttl: Duration = Field(default=timedelta(hours=1), ge=timedelta(0))

    @field_validator("api_server")
    @classmethod
    def _check_api_server(cls, value: str) -> str:
        server, parts = api_server_url(value, "vk")
        if parts.path.rstrip("/").endswith("/method"):
            raise issue("must be the server only, without /method", "e.g. https://api.vk.ru")
        return server

    @model_validator(mode="after")
    def _check_enabled(self) -> VkConfig:
        # A disabled section may keep empty values (the shipped example does).
        if not self.enabled:
            return self
        hint = PATH_HINTS["vk.token"]
        token = self.token.get_secret_value().strip() if self.token is not None else ""
        if not token:
            raise issue("is required when vk is enabled", hint, field_name="token")
        if _is_placeholder_token(token) or token.startswith("${"):
            raise issue("is an example value, not a real community token", hint,
                        field_name="token")
        if len(token) < 20 or any(ch.isspace() for ch in token):
            raise issue("does not look like a VK community token", hint, field_name="token")
        if self.group_id is None:
            raise issue("is required when vk is enabled", PATH_HINTS["vk.group_id"],
                        field_name="group_id")
        problem = route_problem("vk", "callback", self.mode, self.callback, CALLBACK_HINT)
        if problem is not None:
            raise problem
        return self

    @property
    def community(self) -> int:
        """The group id of an enabled section."""
        assert self.group_id is not None
        return self.group_id

    @property
    def secret(self) -> str:
        """The token of an enabled section."""
        assert self.token is not None
        return self.token.get_secret_value().strip()


# --- operators, logging ---------------------------------------------------------------------


class OperatorsConfig(Section):
    """The forum supergroup where operators answer, and who may run admin commands."""

    chat_id: Int
    admins: list[UserId] = []

    @field_validator("chat_id")
    @classmethod
    def _check_chat_id(cls, value: int) -> int:
        if value < _SUPERGROUP_ID_BELOW:
            return value
        hint = CHAT_ID_HINT
        if value > 0:
            hint = f"{value} is a user id, not a group; {CHAT_ID_HINT}"
        elif value < 0:
            hint = (
                "this is a basic group id; turn on Topics in the group settings (Telegram "
                "makes it a supergroup with a new id starting with -100) and use that id"
            )
        raise issue("must be a supergroup id (starts with -100)", hint)


class LoggingConfig(Section):
    """Log verbosity and format (``json`` for log collectors)."""

    level: Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(_upper)] = (
        "INFO"
    )
    format: Annotated[Literal["text", "json"], BeforeValidator(_lower)] = "text"


class Config(Section):
    """The whole config file."""

    storage: StorageConfig = Field(default_factory=StorageConfig)
    telegram: TelegramConfig
    operators: OperatorsConfig
    outbox: OutboxConfig = OutboxConfig()
    logging: LoggingConfig = LoggingConfig()
    # Service levels (hours, targets, acknowledgements, reminders); none without the section.
    service: ServiceConfig | None = None
    vk: VkConfig | None = None
    http: HttpConfig | None = None
    max: MaxConfig | None = None
    web: WebConfig | None = None  # the website chat widget (served by `http:`)
    # Self-service: the FAQ (its shape is fixed) and how the bot uses it.
    faq: list[FaqEntryConfig] = []
    selfservice: SelfServiceConfig = SelfServiceConfig()
    # After the answer: the satisfaction survey.
    csat: CsatConfig = CsatConfig()
    # Canned replies for /t: a name → a jinja2 text per language.
    canned: dict[str, CannedReplyConfig] = {}
    # Flood limits per sender.
    abuse: AbuseConfig = AbuseConfig()

    @field_validator("canned", mode="before")
    @classmethod
    def _check_canned(cls, value: Any) -> Any:
        return check_canned_names(value)
    # Departments, each in its own forum group, and how new customers reach them.
    departments: list[DepartmentConfig] = []
    routing: RoutingConfig | None = None

    @model_validator(mode="after")
    def _check_departments(self) -> Config:
        check_departments(self.departments, self.routing, self.operators.chat_id,
                          service=self.service is not None)
        known = {d.id for d in self.departments}
        for number, entry in enumerate(self.faq):
            if entry.department is not None and entry.department not in known:
                raise issue(f"faq[{number}].department: {entry.department!r} is no department",
                            f"one of: {', '.join(sorted(known)) or 'none configured'}",
                            field_name="faq")
        return self

    @model_validator(mode="after")
    def _check_web_has_http(self) -> Config:
        if self.web is not None and self.web.enabled and self.http is None:
            raise issue("needs the http: section (the widget is served there)",
                        "add http: {listen: 127.0.0.1:8080, public_url: https://…}",
                        field_name="web")
        return self

    @model_validator(mode="after")
    def _check_public_url(self) -> Config:
        has_public_url = self.http is not None and self.http.public_url is not None
        vk_mode = self.vk.mode if self.vk is not None and self.vk.enabled else None
        problem = (public_url_problem("webhook mode", self.telegram.mode, "webhook",
                                      has_public_url)
                   or public_url_problem("vk.mode callback", vk_mode, "callback",
                                         has_public_url))
        if problem is not None:
            raise problem
        return self

    @field_validator("faq")
    @classmethod
    def _check_faq_ids(cls, value: list[FaqEntryConfig]) -> list[FaqEntryConfig]:
        check_unique_ids(value)
        return value
