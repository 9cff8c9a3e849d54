"""Shared core of the control API: components, lookups, rate-limit/fault/long-poll knobs."""

from __future__ import annotations

from .errors import ControlError
from .limits import Fault, FaultInjector, RateLimiter
from .longpoll import LP_METHOD, LongPollServer
from .server import ApiServer
from .state import Community, Options, State, UserRecord
from .uploads import UploadServer

UserRef = UserRecord | int
CommunityRef = Community | int


class EmulatorBase:
    """Components every part of the control API needs; see ``VkEmulator``."""

    def __init__(self) -> None:
        self.state = State()
        self.limiter = RateLimiter()
        self.faults = FaultInjector()
        self.server = ApiServer(self.state, self.limiter, self.faults)
        self.longpoll = LongPollServer(self.state, self.faults, self.server)
        self.uploads = UploadServer(self.state)
        self.base_url = ""

    @property
    def options(self) -> Options:
        """Behaviour switches (text_limit, random_id_ttl, long-poll waits), changeable live."""
        return self.state.options

    # ---- rate limits and faults ---------------------------------------------------------
    def set_rate_limit(
        self,
        enabled: bool = True,
        count: int | None = None,
        window: float | None = None,
        *,
        lp_server_count: int | None = None,
        lp_server_window: float | None = None,
    ) -> None:
        """``count`` requests per ``window`` seconds per community token (default 20/1s,
        on), and groups.getLongPollServer calls per window (default 20/60s) before error 29.
        Unspecified values are kept; counters restart."""
        self.limiter.configure(
            enabled,
            count,
            window,
            lp_server_count=lp_server_count,
            lp_server_window=lp_server_window,
        )

    def inject_fault(
        self,
        method: str,
        error_code: int,
        error_msg: str | None = None,
        times: int | None = 1,
        *,
        peer_id: int | None = None,
    ) -> None:
        """The next ``times`` matching calls (None: until reset) answer this VK error (message
        defaults to VK's text for the code, e.g. 9 "Flood control", 10 "Internal server
        error"). method "*" matches every method."""
        self.faults.add(
            Fault(
                "error",
                method.lower(),
                times,
                peer_id=peer_id,
                error_code=error_code,
                error_msg=error_msg,
            )
        )

    def inject_delay(
        self, method: str, seconds: float, times: int | None = 1, *, peer_id: int | None = None
    ) -> None:
        """Delay the answer (method "longpoll" delays a_check before it starts waiting)."""
        self.faults.add(Fault("delay", method.lower(), times, peer_id=peer_id, seconds=seconds))

    def drop_connection(
        self,
        method: str,
        times: int | None = 1,
        *,
        after: bool = False,
        peer_id: int | None = None,
    ) -> None:
        """Cut the connection instead of answering. after=True performs the call first (the
        message IS sent, the client just never hears back) -- the duplicate-send trap.
        method "longpoll" cuts a_check requests."""
        self.faults.add(Fault("drop", method.lower(), times, peer_id=peer_id, after=after))

    def longpoll_fault(
        self, kind: str, code: int | None = None, times: int | None = 1, *, after: float = 0.0
    ) -> None:
        """Long poll (a_check) faults, in the order injected (``after``: answer the fault
        that many seconds after the request came, like a server that was slow to fail):
        "failed" + code 1/2/3: answer ``{"failed": code}`` (1 also carries the current ts);
        "hang": never answer until the emulator stops (the client must time out);
        "status" + code: answer that HTTP status (e.g. 502) with an HTML body;
        "drop": cut the connection."""
        if kind not in ("failed", "hang", "status", "drop"):
            raise ControlError(f"unknown long poll fault {kind!r}")
        if kind in ("failed", "status") and code is None:
            raise ControlError(f"long poll fault {kind!r} needs a code")
        self.faults.add(Fault(kind, LP_METHOD, times, error_code=code or 0, seconds=after))

    def reset_faults(self) -> None:
        self.faults.reset()

    # ---- long poll state ----------------------------------------------------------------
    def expire_key(self, community: CommunityRef) -> None:
        """Every issued long-poll key expires: a_check answers ``{"failed": 2}``."""
        lp = self._community(community).longpoll
        for key in lp.keys:
            lp.keys[key] = "expired"
        self.state.notifier.notify()

    def lose_history(self, community: CommunityRef) -> None:
        """VK lost the key and the event history: a_check answers ``{"failed": 3}``; events so
        far are gone and ts numbering jumps ahead."""
        lp = self._community(community).longpoll
        for key in lp.keys:
            lp.keys[key] = "lost"
        lp.history.clear()
        lp.next_ts += 1000
        self.state.notifier.notify()

    def trim_history(self, community: CommunityRef, keep: int = 0) -> None:
        """Forget all but the last ``keep`` events: an older ts answers ``{"failed": 1}``."""
        lp = self._community(community).longpoll
        while len(lp.history) > keep:
            lp.history.popleft()
        self.state.notifier.notify()

    # ---- lookups ------------------------------------------------------------------------
    def _user(self, user: UserRef) -> UserRecord:
        user_id = user if isinstance(user, int) else user.id
        if user_id not in self.state.users:
            raise ControlError(f"unknown user {user_id}")
        return self.state.users[user_id]

    def _community(self, community: CommunityRef) -> Community:
        group_id = community if isinstance(community, int) else community.id
        found = self.state.communities.get(abs(group_id))
        if found is None:
            raise ControlError(f"unknown community {group_id}")
        return found
