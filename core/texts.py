"""Bot-authored texts. Jinja2, sandboxed and HTML-autoescaped: every customer-supplied string
that lands in a bot post is escaped, so names like `<b>&<3` never break a send."""

from __future__ import annotations

import re
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
        "{% if department is defined and department %}Department: <b>{{ department }}</b>\n"
        "{% endif %}"
        "{% if previous %}Previous conversations: {{ previous }}\n{% endif %}"
        "{% if identities|length > 1 %}Linked: "
        "{% for i in identities %}{{ i }}{% if not loop.last %}, {% endif %}{% endfor %}\n"
        "{% endif %}"
        "{% if extra is defined %}{% for line in extra %}{{ line }}\n{% endfor %}{% endif %}"
        "\nReply in this topic to answer. <code>/note text</code> stays internal, "
        "<code>/close</code> closes the conversation, <code>/reopen</code> reopens it; "
        "<code>/take</code> assigns it to you, <code>/snooze 2h</code> pauses reminders."
    ),
    "_department_context": "🧭 Department: <b>{{ name }}</b> ({{ why }})",
    "_transfer_pointer": "➡️ Conversation #{{ conversation_id }} transferred to "
    "<b>{{ name }}</b> by {{ operator }}; it goes on in that department's topic. This topic "
    "is closed: answers from here no longer reach the customer.",
    "_transfer_context": "↪️ Transferred from <b>{{ source }}</b> by {{ operator }}"
    "{% if note %}\n📝 {{ note }}{% endif %}"
    "{% if lines %}\n\nSo far:{% for line in lines %}\n{{ line }}{% endfor %}"
    "{% endif %}{% if cut %}\n(…{{ cut }} earlier messages left out){% endif %}",
    "_report_scope": "🏷 {{ label }}",
    "_transfer_refused": "⚠️ /transfer {{ wanted }}: {{ why }}. Departments: {{ known }}.",
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
    # service levels (core/sla/); `who` and `link` are rendered HTML, marked safe
    "sla_reminder": "⏰ {{ who }} {{ target }} is due in {{ left }} (by {{ due }}).",
    "sla_escalation": "🚨 {{ admins }} — missed target{% if items|length > 1 %}s{% endif %}:\n"
    "{% for i in items %}• {{ i.link }} — {{ i.target }}, due {{ i.due }}\n{% endfor %}"
    "{% if more %}…and {{ more }} more\n{% endif %}",
    "sla_digest": "⏳ {{ count }} conversation{% if count != 1 %}s{% endif %} waiting past "
    "the target:\n{% for i in items %}• {{ i.link }} — {{ i.target }}, overdue {{ i.late }}\n"
    "{% endfor %}{% if more %}…and {{ more }} more\n{% endif %}",
    "taken": "🙋 {{ operator }} took conversation #{{ conversation_id }}.",
    "reopened": "🔓 Conversation #{{ conversation_id }} reopened by {{ operator }}.",
    "cannot_reopen": "⚠️ Conversation #{{ conversation_id }} can't be reopened: the customer "
    "already has a newer open conversation.",
    "snoozed": "💤 Snoozed by {{ operator }} until {{ until }}: no reminders before then.",
    "sla_report": "📊 <b>Report: {{ period }}</b> ({{ since }} – {{ until }})\n"
    "Conversations: {{ conversations }}\n"
    "First response: median {{ fr_median }}, p90 {{ fr_p90 }}\n"
    "Resolution: median {{ resolution }}\n"
    "SLA hit rate: {{ hit }}\n"
    "{% if channels %}\n<b>By channel</b>\n{% for r in channels %}• {{ r.label }}: "
    "{{ r.n }} conv., first response {{ r.fr }}, hit {{ r.hit }}\n{% endfor %}{% endif %}"
    "{% if operators %}\n<b>By operator</b>\n{% for r in operators %}• {{ r.label }}: "
    "{{ r.n }} conv., first response {{ r.fr }}, hit {{ r.hit }}\n{% endfor %}{% endif %}",
    "chart_caption": "📈 {{ period }}: first response by hour, hit rate per channel and per "
    "operator",
    "bad_report": "⚠️ Use <code>/report today</code>, <code>/report week</code> or "
    "<code>/report month</code>.",
    "bad_snooze": "⚠️ Use <code>/snooze 2h</code>, <code>/snooze 18:30</code> or "
    "<code>/snooze tomorrow 10:00</code>.",
}

_TEMPLATES.update({
    "_mention": '<a href="tg://user?id={{ user_id }}">{{ name }}</a>',
    "_topic_link": '<a href="https://t.me/c/{{ internal }}/{{ topic_id }}">'
    "#{{ conversation_id }}</a>",
    "_plain_ref": "#{{ conversation_id }}",
})

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


_TITLE_CUSTOMER = re.compile(r" · #(\d+)\Z")


def topic_customer(title: str) -> int | None:
    """The customer number at the end of a title made by `topic_title` (None for any other
    title). Shortening a title (here or by the desk) keeps its end."""
    found = _TITLE_CUSTOMER.search(title)
    return int(found.group(1)) if found else None


def mention(user_id: int | str, name: str = "operator") -> str:
    """An HTML mention that notifies a Telegram user by id (no username needed)."""
    return render("_mention", user_id=str(user_id), name=name)


def topic_link(desk_chat_id: str, topic_id: int | None, conversation_id: int) -> str:
    """An HTML link to a conversation's topic (a forum supergroup id is -100<internal id>)."""
    internal = desk_chat_id.removeprefix("-100")
    if topic_id is None or not internal.isdigit():
        return render("_plain_ref", conversation_id=conversation_id)
    return render("_topic_link", internal=internal, topic_id=topic_id,
                  conversation_id=conversation_id)


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel.upper())
