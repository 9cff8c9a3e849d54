"""The VK community channel: an aiohttp transport for the VK API and Bots Long Poll."""

from .errors import VkApiError, VkNetworkError, VkUploadError, to_outcome
from .longpoll import VkLongPoll
from .transport import VkApi, random_id_for, split_text, token_rate_key
from .uploads import upload_doc, upload_photo

__all__ = [
    "VkApi",
    "VkApiError",
    "VkLongPoll",
    "VkNetworkError",
    "VkUploadError",
    "random_id_for",
    "split_text",
    "to_outcome",
    "token_rate_key",
    "upload_doc",
    "upload_photo",
]
