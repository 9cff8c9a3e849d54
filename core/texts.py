"""Bot-authored texts. Jinja2, sandboxed and HTML-autoescaped: every customer-supplied string
that lands in a bot post is escaped, so names like `<b>&<3` never break a send."""

from __future__ import annotations

from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

_TEMPLATES: dict[str, str] = {
    "topic_title": "{{ name }} · {{ channel_label }} · #{{ customer_id }}",
    "card": (
        "👤 <b>{{ name }}</b>"
        "{% if username %} (@{{ username }}){% endif %}\n"
        "Channel: {{ channel_label }}"
        "{% if link %} · <a href=\"{{ link }}\">profile</a>{% endif %}\n"
        "{% if language %}Language: {{ language }}\n{% endif %}"
        "Customer #{{ customer_id }} · conversation #{{ conversation_id }}\n"
        "{% if previous %}Previous conversations: {{ previous }}\n{% endif %}"
        "{% if identities|length > 1 %}Linked: "
        "{% for i in identities %}{{ i }}{% if not loop.last %}, {% endif %}{% endfor %}\n"
        "{% endif %}"
        "\nReply in this topic to answer. <code>/note text</code> stays internal, "
        "<code>/close</code> closes the conversation."
    ),
    "new_conversation": (
        "🔄 New conversation #{{ conversation_id }} from <b>{{ name }}</b>"
        "{% if previous %} (previous: {{ previous }}){% endif %}"
    ),
    "closed": "✅ Conversation #{{ conversation_id }} closed by {{ operator }}.",
    "blocked": "⛔ <b>{{ name }}</b> blocked the bot or denied messages ({{ channel_label }}); "
    "replies can't reach them there until they allow them again.",
    "unblocked": "✅ <b>{{ name }}</b> unblocked the bot / allowed messages "
    "({{ channel_label }}); replies reach them again.",
    "not_delivered_blocked": "⚠️ Not delivered: the customer has blocked the bot or denied "
    "messages.",
    "channel_answer": "💬 <i>{{ name }} answered in {{ channel_label }}:</i>\n{{ text }}",
    "linked": "🔗 {{ operator }} linked customer #{{ other }} to #{{ customer_id }}: "
    "{{ identities }}. The conversation continues here; answers go to the channel the "
    "customer last wrote from.",
    "linked_away": "🔗 {{ operator }} linked this customer to #{{ customer_id }}; the "
    "conversation continues in conversation #{{ conversation_id }}.",
    "link_failed": "⚠️ /link: {{ reason }}",
    "not_delivered": "⚠️ Not delivered to the customer: {{ reason }}",
    "dead_letter": "⚠️ A delivery to {{ target }} failed for good after {{ attempts }} "
    "attempt(s): {{ reason }}{% if topic_link %} — {{ topic_link }}{% endif %}",
    "placeholder": "{{ icon }} <i>{{ name }} sent {{ what }}</i>{% if detail %}: "
    "{{ detail }}{% endif %}",
    "edited": "✏️ <i>{{ name }} edited a message:</i>\n{{ text }}",
    "greeting": "Hello! Write your question here and a support agent will answer you.",
}

CHANNEL_LABELS = {"telegram": "TG", "vk": "VK"}

_env = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)
_compiled = {name: _env.from_string(src) for name, src in _TEMPLATES.items()}
_plain_env = SandboxedEnvironment(autoescape=False, undefined=StrictUndefined)
_plain = {"topic_title": _plain_env.from_string(_TEMPLATES["topic_title"])}

TITLE_LIMIT = 128


def render(template: str, **values: Any) -> str:
    """Render an HTML text (autoescaped)."""
    return _compiled[template].render(**values)


def topic_title(name: str, channel: str, customer_id: int) -> str:
    """A forum topic title (plain text, not HTML); cut to Telegram's 128 characters."""
    label = CHANNEL_LABELS.get(channel, channel.upper())
    suffix = f" · {label} · #{customer_id}"
    clean = " ".join(name.split()) or "Customer"
    room = TITLE_LIMIT - len(suffix)
    if len(clean) > room:
        clean = clean[: room - 1] + "…"
    return _plain["topic_title"].render(
        name=clean, channel_label=label, customer_id=customer_id
    )[:TITLE_LIMIT]


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel.upper())
