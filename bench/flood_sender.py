"""One customer's flood, sent from its own process: `python -m bench.flood_sender --url URL
--user ID --count N`.

The Telegram emulator lives in the benchmark process; a flood made there (a loop of
`emu.user_send`) keeps that process busy making updates in one burst, and relaydesk's calls
wait for the burst to end, which Telegram's servers would not make them do. Here a separate
process posts each message to the emulator's control API (`POST /_control/user_send`, the
HTTP face of `user_send`) over a few keep-alive connections, each sending its next message as
soon as the last is taken: as fast as the emulator accepts them, with relaydesk's calls
served between them. Plain HTTP/1.1 on asyncio streams, requests encoded beforehand: the
sender shares the machine with relaydesk, so it should cost it as little as possible.

An HTTP request costs the emulator several times what making the message does (~0.15 ms
against ~0.03 ms), so one request a message spreads the flood over ~0.2 s; `--batch N` sends
N messages a request (`POST /_control/user_send_many`, which yields between them), so the
flood is queued about as fast as in process, still without holding the emulator's loop for
more than one message at a time.

Protocol with the benchmark: the sender prints `ready` once its connections are open, waits
for a line on stdin, sends, then prints one JSON line: the monotonic times (system-wide on
Linux, comparable with the benchmark's) of the first send and the last answer, and the
messages sent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parents[1]


def _request(host: str, path: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n")
    return head.encode() + data


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """One response's body (the emulator answers with a Content-Length, never chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    body = await reader.readexactly(length)
    if status != b"200":
        raise RuntimeError(f"user_send answered {status.decode()}: {body!r}")
    return body


async def _connect(base: str, connections: int
                   ) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    url = urlsplit(base)
    return [await asyncio.open_connection(url.hostname, url.port) for _ in range(connections)]


async def _send_all(streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]],
                    requests: list[bytes]) -> None:
    """Each connection sends the next request when its last one was answered; the requests
    are numbered in the order they are handed out, so the emulator sees them in (nearly)
    that order. The requests are encoded beforehand: the sender's own CPU (taken from the
    machine relaydesk runs on) stays small."""
    pending = iter(requests)

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for request in pending:
            writer.write(request)
            await _answer(reader)

    await asyncio.gather(*(connection(r, w) for r, w in streams))


def _requests(host: str, user: int, texts: list[str], batch: int) -> list[bytes]:
    """One `user_send` per text, or (batch > 1) one `user_send_many` per `batch` texts."""
    if batch <= 1:
        return [_request(host, "/_control/user_send",
                         {"user_id": user, "chat_id": user, "text": text}) for text in texts]
    return [_request(host, "/_control/user_send_many",
                     {"user_id": user, "chat_id": user, "texts": texts[n:n + batch]})
            for n in range(0, len(texts), batch)]


async def flood(base: str, user: int, count: int, connections: int, prefix: str,
                batch: int = 1) -> dict[str, float]:
    texts = [f"{prefix}{n}" for n in range(count)]
    requests = _requests(urlsplit(base).netloc, user, texts, batch)
    streams = await _connect(base, connections)
    try:
        print("ready", flush=True)
        go = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        if not go:  # the benchmark went away before the flood: nothing to send
            return {"sent": 0}
        first, cpu = time.monotonic(), time.process_time()
        await _send_all(streams, requests)
        return {"first_send": first, "last_answer": time.monotonic(), "sent": count,
                "cpu_s": time.process_time() - cpu}
    finally:
        for _, writer in streams:
            writer.close()


@dataclass
class FloodProcess:
    """The benchmark's handle on a sender process: started and connected before the flood,
    told to go when the benchmark starts its clock."""

    proc: asyncio.subprocess.Process
    result: dict[str, float] = field(default_factory=dict)  # go()'s, once it returned

    @classmethod
    async def ready(cls, base_url: str, user: int, count: int, connections: int,
                    batch: int = 1) -> FloodProcess:
        proc = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "bench.flood_sender", "--url", base_url, "--user", str(user),
            "--count", str(count), "--connections", str(connections), "--batch", str(batch),
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        sender = cls(proc)
        line = await sender._line()
        if line != "ready":
            raise RuntimeError(f"flood sender did not start: {line!r}")
        return sender

    async def _line(self) -> str:
        assert self.proc.stdout is not None
        try:
            raw = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise
        return raw.decode().strip()

    async def close(self) -> None:
        """Stop a sender still running (the benchmark failed before or during its flood)."""
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def go(self) -> dict[str, float]:
        """Send the flood; its first send, last answer (monotonic) and messages sent."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"go\n")
        await self.proc.stdin.drain()
        line = await self._line()
        code = await self.proc.wait()
        if code != 0 or not line:
            raise RuntimeError(f"flood sender exited {code}: {line!r}")
        self.result = json.loads(line)
        return self.result


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.flood_sender")
    parser.add_argument("--url", required=True, help="the emulator's base URL")
    parser.add_argument("--user", type=int, required=True, help="the flooding customer's id")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1,
                        help="messages per request (more than 1: /_control/user_send_many)")
    parser.add_argument("--prefix", default="f ", help="text before each message's number")
    args = parser.parse_args()
    result = asyncio.run(flood(args.url.rstrip("/"), args.user, args.count, args.connections,
                               args.prefix, args.batch))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
