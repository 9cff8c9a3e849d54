"""Forum topic operations shared by the Bot API methods and the human control API."""

from __future__ import annotations

from .delivery import new_message, publish
from .state import ChatRecord, Json, State, TopicRecord

ICON_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)
MAX_TOPIC_NAME = 128


def create_topic(
    state: State,
    chat: ChatRecord,
    actor_id: int,
    name: str,
    icon_color: int = ICON_COLORS[0],
    icon_custom_emoji_id: str | None = None,
) -> TopicRecord:
    created: Json = {"name": name, "icon_color": icon_color}
    if icon_custom_emoji_id:
        created["icon_custom_emoji_id"] = icon_custom_emoji_id
    # The forum_topic_created service message consumes a message id, and that id *is* the
    # topic's message_thread_id.
    msg = new_message(chat, actor_id, {"forum_topic_created": created}, service=True)
    msg.thread_id = msg.message_id
    topic = TopicRecord(
        thread_id=msg.message_id,
        name=name,
        icon_color=icon_color,
        creator_id=actor_id,
        icon_custom_emoji_id=icon_custom_emoji_id,
    )
    chat.topics[topic.thread_id] = topic
    publish(state, msg)
    return topic


def edit_topic(
    state: State,
    chat: ChatRecord,
    topic: TopicRecord,
    actor_id: int,
    name: str | None,
    icon_custom_emoji_id: str | None,
) -> None:
    edited: Json = {}
    if name is not None:
        topic.name = name
        edited["name"] = name
    if icon_custom_emoji_id is not None:
        topic.icon_custom_emoji_id = icon_custom_emoji_id or None
        edited["icon_custom_emoji_id"] = icon_custom_emoji_id
    _service(state, chat, topic, actor_id, {"forum_topic_edited": edited})


def set_closed(
    state: State, chat: ChatRecord, topic: TopicRecord, actor_id: int, closed: bool
) -> None:
    topic.closed = closed
    kind = "forum_topic_closed" if closed else "forum_topic_reopened"
    _service(state, chat, topic, actor_id, {kind: {}})


def delete_topic(state: State, chat: ChatRecord, topic: TopicRecord) -> None:
    """The topic and every message in it disappear; nobody gets an update (as on Telegram)."""
    topic.deleted = True
    for msg in chat.messages.values():
        if msg.thread_id == topic.thread_id:
            msg.deleted = True
    state.notifier.notify()


def _service(
    state: State, chat: ChatRecord, topic: TopicRecord, actor_id: int, content: Json
) -> None:
    msg = new_message(chat, actor_id, content, thread_id=topic.thread_id, service=True)
    publish(state, msg)


def topic_info(topic: TopicRecord) -> Json:
    return {
        "message_thread_id": topic.thread_id,
        "name": topic.name,
        "icon_color": topic.icon_color,
        "icon_custom_emoji_id": topic.icon_custom_emoji_id,
        "creator_id": topic.creator_id,
        "closed": topic.closed,
        "deleted": topic.deleted,
    }
