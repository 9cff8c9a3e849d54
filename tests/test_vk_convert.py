"""VK message objects → core content: the shapes VK sends, including sparse ones."""

from __future__ import annotations

from adapters.vk.convert import content_of, profile_of, reply_id


def test_text_only_and_empty_messages() -> None:
    assert content_of({"text": "hi"}).text == "hi"
    empty = content_of({})
    assert empty.text == "" and empty.attachments == () and empty.content_type == "text"


def test_photo_takes_the_original_or_the_largest_size() -> None:
    orig = {"type": "photo", "photo": {"orig_photo": {"url": "https://u/o.jpg"},
                                       "sizes": [{"url": "https://u/s.jpg"}]}}
    sizes = {"type": "photo", "photo": {"sizes": [
        {"url": "https://u/s.jpg", "width": 75, "height": 50},
        {"url": "https://u/x.jpg", "width": 604, "height": 400}]}}
    assert content_of({"attachments": [orig]}).attachments[0].ref == "https://u/o.jpg"
    assert content_of({"attachments": [sizes]}).attachments[0].ref == "https://u/x.jpg"
    broken = content_of({"attachments": [{"type": "photo", "photo": {}}]})
    assert broken.attachments == () and "a photo" in broken.text


def test_kinds_without_files_become_text() -> None:
    content = content_of({"text": "look", "attachments": [
        {"type": "video", "video": {"owner_id": -1, "id": 5}},
        {"type": "audio", "audio": {"artist": "A", "title": "T"}},
        {"type": "sticker", "sticker": {"images": []}},
        {"type": "gift", "gift": {}},
    ]})
    lines = content.text.split("\n")
    assert lines[0] == "look"
    assert "https://vk.com/video-1_5" in lines[1] and "A – T" in lines[2]
    assert "sticker" in lines[3] and "gift" in lines[4]


def test_forwards_nest_three_levels_and_their_files_come_along() -> None:
    deepest = {"from_id": 4, "text": "level 4"}
    nested: dict = deepest
    for level in (3, 2, 1):
        nested = {"from_id": level, "text": f"level {level}", "fwd_messages": [nested],
                  "attachments": [{"type": "doc", "doc": {"url": f"https://u/{level}",
                                                          "title": f"d{level}.pdf"}}]}
    content = content_of({"text": "", "fwd_messages": [nested]})
    assert "level 1" in content.text and "level 3" in content.text
    assert "level 4" not in content.text  # three levels say enough
    assert [a.name for a in content.attachments] == ["d1.pdf", "d2.pdf", "d3.pdf"]


def test_replies_thread_by_id_and_always_carry_a_quote() -> None:
    with_id = {"text": "ok", "reply_message": {"id": 7, "from_id": -5, "text": "hello"}}
    without = {"text": "ok", "reply_message": {"from_id": 9, "text": "",
                                               "attachments": [{"type": "photo"}]}}
    assert reply_id(with_id) == "7" and content_of(with_id).quote == "club5: hello"
    assert reply_id(without) is None and content_of(without).quote == "id9: [photo]"


def test_profiles() -> None:
    anna = profile_of({"first_name": "Anna", "last_name": "S", "screen_name": "anna_s"}, 5, 3)
    assert (anna.display_name, anna.username, anna.language, anna.link) == (
        "Anna S", "anna_s", "en", "https://vk.com/anna_s")
    plain = profile_of({"first_name": "Bo", "screen_name": "id6"}, 6)
    assert plain.username is None and plain.link == "https://vk.com/id6"
    unknown = profile_of(None, 7)
    assert unknown.display_name == "" and unknown.link == "https://vk.com/id7"
