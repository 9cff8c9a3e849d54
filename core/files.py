"""Cross-platform files: an attachment is fetched from the platform it came from."""

from __future__ import annotations

from core.errors import PermanentError, TransientError
from core.model import Attachment
from core.ports import FileSource


class Files:
    """The file sources of every platform relaydesk talks to, by platform name."""

    def __init__(self) -> None:
        self._sources: dict[str, FileSource] = {}

    def register(self, source: FileSource) -> None:
        self._sources[source.platform] = source

    async def fetch(self, attachment: Attachment) -> bytes:
        """The file's bytes; failures are delivery outcomes (the send is retried later)."""
        source = self._sources.get(attachment.platform)
        if source is None:
            raise PermanentError(f"no file source for {attachment.platform!r}")
        try:
            return await source.fetch(attachment.ref)
        except Exception as exc:  # any platform's failure: network, expired file, too big
            raise TransientError(
                f"fetching a {attachment.kind} from {attachment.platform} failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
