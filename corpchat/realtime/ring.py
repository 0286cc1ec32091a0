"""A room's ring of newest messages: pure data, no I/O (see realtime/live.py for why it exists).

The newest messages of a room live in CHUNKS small lists ("chunks" of CHUNK
messages by seq). A new, edited or deleted message changes one chunk, which is
then broadcast whole. Bubbles are formatted once for every viewer of the same
time zone and language: nothing that differs per viewer (mine, hidden for me,
my reactions, a block between two users) may ever be put into a ring; the page
decides those from per-tab vars (`my_id`, `hidden_ids`, ...).
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass, field

from corpchat import views
from corpchat.realtime.reflex_glue import WIRE_SUFFIX

CHUNKS = 8
CHUNK = 16
COVER = CHUNKS * CHUNK
# A viewer about this far behind the newest message folds now, well before the ring reuses
# the chunk that holds its oldest live message (a later fold still works, from the database).
FOLD_LAG = COVER // 2
# A tab's entry in Ring.viewers: its settled seq, or one of these (never asked to fold).
NOT_SEEDED = -1
RIDING = -2  # shows the ring alone (see ride)


def chunk_var(i: int) -> str:
    return f"live{i}"


@functools.lru_cache(maxsize=1 << 16)
def spread(token: str) -> float:
    """0 .. 1, fixed per tab: the members of a group that all got the same message (or reached
    the fold point together) must not all change their state in the same instant, a burst the
    next message would wait behind (hub's delays, fold_lag)."""
    return zlib.crc32(token.encode()) % 1000 / 1000


def fold_lag(token: str) -> int:
    """FOLD_LAG .. 3*FOLD_LAG/2 - 1 (below COVER - CHUNK, what the ring holds at least): a 200-member
    group's folds at the same message held the next one up for 150-200 ms."""
    return FOLD_LAG + int(spread(token) * (FOLD_LAG // 2))


@dataclass(eq=False)
class Ring:
    room_id: int
    tz: str
    lang: str
    name: str
    last_day: str = ""  # the day of the newest message before the ring started (seeded by the first viewer)
    chunks: list[tuple] = field(default_factory=lambda: [()] * CHUNKS)
    bases: list[int] = field(default_factory=lambda: [-1] * CHUNKS)
    seen: set[int] = field(default_factory=set)  # seqs this ring has seen (also deleted ones)
    # Messages up to `floor` are in every viewer's settled window: the ring ignores them.
    # None until the first viewer has read its history (join comes first, so nothing is missed).
    floor: int | None = None
    newest: int = 0
    viewers: dict[str, int] = field(default_factory=dict)  # tab token -> its settled seq as last known
    dirty: set[int] = field(default_factory=set)  # chunks changed since the last broadcast
    flush_due: bool = False
    last_flush: float = float("-inf")  # loop time

    # ----- content -----------------------------------------------------
    def order(self) -> list[int]:
        return sorted((i for i in range(CHUNKS) if self.bases[i] >= 0), key=lambda i: self.bases[i])

    def items(self) -> list[dict]:
        return [m for i in self.order() for m in self.chunks[i]]

    def _slot(self, seq: int) -> int | None:
        """The chunk for seq, emptied first if it held an older range; None if seq is too old."""
        i, base = (seq // CHUNK) % CHUNKS, seq - seq % CHUNK
        if self.bases[i] > base:
            return None
        if self.bases[i] < base:
            self.chunks[i], self.bases[i] = (), base
            oldest = base - (CHUNKS - 1) * CHUNK
            self.seen = {s for s in self.seen if s >= oldest}
            self.floor = max(self.floor or 0, oldest - 1)
        return i

    def _neighbour(self, seq: int, step: int) -> dict | None:
        """The ring's message just before (step -1) or after (step +1) seq, looking chunk by chunk."""
        i, base = (seq // CHUNK) % CHUNKS, seq - seq % CHUNK
        for _ in range(CHUNKS):
            if self.bases[i] == base:
                near = [m for m in self.chunks[i] if (m["seq"] - seq) * step > 0]
                if near:
                    return near[-1] if step < 0 else near[0]
            elif self.bases[i] > base if step < 0 else self.bases[i] < base:
                return None  # wrapped past the ring's ends
            base += step * CHUNK
            i = (i + step) % CHUNKS
        return None

    def _previous_day(self, seq: int) -> str:
        prev = self._neighbour(seq, -1)
        return prev["day"] if prev else self.last_day

    def upsert(self, raw: dict) -> list[int]:
        """Insert or replace a committed message; returns the chunks that changed."""
        seq = raw["seq"]
        if self.floor is not None and seq <= self.floor and seq not in self.seen:
            return []
        i = self._slot(seq)
        if i is None:
            return []
        item = {**views.message_item(raw, views.zone(self.tz), self.lang), "show_day": False}
        item["show_day"] = item["day"] != self._previous_day(seq)
        old = next((m for m in self.chunks[i] if m["seq"] == seq), None)
        if old is not None and old == item:
            return []  # told twice (several workers, a resend): nothing to send
        chunk = [m for m in self.chunks[i] if m["seq"] != seq]
        chunk.append(item)
        chunk.sort(key=lambda m: m["seq"])
        self.chunks[i] = tuple(chunk)
        self.seen.add(seq)
        self.newest = max(self.newest, seq)
        changed = [i]
        # A message that overtook this one on the way may now start a day wrongly.
        nxt = self._neighbour(seq, +1)
        if nxt is not None and nxt["show_day"] != (nxt["day"] != item["day"]):
            j = (nxt["seq"] // CHUNK) % CHUNKS
            self.chunks[j] = tuple({**m, "show_day": not m["show_day"]} if m is nxt else m for m in self.chunks[j])
            changed.append(j)
        return sorted(set(changed))

    def remove(self, seq: int, message_id: int) -> list[int]:
        i = (seq // CHUNK) % CHUNKS
        if self.bases[i] != seq - seq % CHUNK:
            return []
        self.seen.add(seq)
        before = self.chunks[i]
        self.chunks[i] = tuple(m for m in before if m["id"] != message_id)
        return [i] if len(self.chunks[i]) != len(before) else []

    def after(self, after_seq: int) -> list[dict] | None:
        """The messages after after_seq up to the first one not seen yet (still on its way).

        None when the ring does not reach back to after_seq + 1 (started later, or reused).
        """
        if self.floor is None or after_seq < self.floor:
            return None
        seq = after_seq + 1
        while seq in self.seen:
            seq += 1
        return [m for m in self.items() if after_seq < m["seq"] < seq]

    def delta(self, chunks) -> dict:
        values = {chunk_var(i) + WIRE_SUFFIX: list(self.chunks[i]) for i in chunks}
        values["live_order" + WIRE_SUFFIX] = self.order()
        values["live_room" + WIRE_SUFFIX] = self.room_id
        return values
