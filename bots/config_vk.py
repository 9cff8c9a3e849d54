"""config.yaml's `vk.mode` and `vk.callback:`: how VK hands relaydesk its events. `long_poll`
(the default) needs no public address; `callback` has VK POST every event to a path of the
shared `http:` server (VK's Callback API).

```yaml
vk:
  mode: callback
  callback:
    path: /vk/callback                       # VK POSTs to http.public_url + path
    secret: ${VK_CALLBACK_SECRET}            # the "secret key" set in the community's settings
    confirmation: ${VK_CALLBACK_CONFIRMATION} # the string VK shows: "the server must return"
```
"""

from __future__ import annotations

import re

from pydantic import SecretStr, field_validator

from bots.config_types import Section
from bots.config_webhook import matched_secret, url_path

MODE_HINT = ("long_poll (the default) needs no public address; callback needs vk.callback "
             "and http.public_url")
SECRET_HINT = ("1-50 characters of A-Z, a-z and 0-9 (VK's limit for the secret key), the same "
               "as in the community's Manage → API usage → Callback API → Secret key")
CONFIRMATION_HINT = ("the string VK shows under \"String to be returned\" in the community's "
                     "Manage → API usage → Callback API (e.g. 1a2b3c4d)")
PATH_HINT = "a path on the http server starting with /, e.g. /vk/callback"
CALLBACK_HINT = "add vk.callback with `secret:` and `confirmation:`"
_SECRET = re.compile(r"[A-Za-z0-9]{1,50}")
_CONFIRMATION = re.compile(r"[A-Za-z0-9]{1,64}")


def normal_vk_mode(value: object) -> object:
    """`long-poll`, `longpoll` and `Long_Poll` all mean the long poll."""
    if isinstance(value, str):
        value = value.strip().lower().replace("-", "_")
        return "long_poll" if value == "longpoll" else value
    return value


class VkCallbackConfig(Section):
    """The Callback API route, the secret VK proves itself with and the confirmation."""

    path: str = "/vk/callback"
    secret: SecretStr
    confirmation: SecretStr

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        return url_path(value, PATH_HINT)

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: SecretStr) -> SecretStr:
        return matched_secret(value, _SECRET, "is not a secret key VK accepts", SECRET_HINT)

    @field_validator("confirmation")
    @classmethod
    def _check_confirmation(cls, value: SecretStr) -> SecretStr:
        return matched_secret(value, _CONFIRMATION, "does not look like VK's confirmation string",
                              CONFIRMATION_HINT)
