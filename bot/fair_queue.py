"""The jobs waiting for a generation slot: one lane per chat, served round-robin, so that a busy
group cannot starve everyone else. It holds job ids only (a few dozen bytes each); the jobs
themselves are in the database."""

from __future__ import annotations

import asyncio
from collections import OrderedDict


class FairQueue:
    """`push` a job into its chat's lane; `await pop()` takes the next one in round-robin order:
    the first lane's first job, after which that lane goes to the back of the round."""

    def __init__(self) -> None:
        self._lanes: OrderedDict[int, list[int]] = OrderedDict()
        self._lane_of: dict[int, int] = {}
        self._not_empty = asyncio.Event()

    def __len__(self) -> int:
        return len(self._lane_of)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._lane_of

    def push(self, lane: int, job_id: int) -> int:
        """Queue `job_id` in `lane`; how many jobs will be served before it."""
        queue = self._lanes.setdefault(lane, [])
        queue.append(job_id)
        self._lane_of[job_id] = lane
        self._not_empty.set()
        if len(queue) == 1:
            # A chat's first job waits for one job of every lane before its own: counted in
            # constant time, as most pushes are (2,000 chats at once would be 2,000² steps).
            return len(self._lanes) - 1
        return self.ahead_of(job_id)

    async def pop(self) -> int:
        while not self._lanes:
            self._not_empty.clear()
            await self._not_empty.wait()
        lane, queue = next(iter(self._lanes.items()))
        # A lane is one chat's jobs, a handful (USER_MAX_IN_FLIGHT each): a list is smaller than
        # a deque, and that counts with thousands of chats waiting.
        job_id = queue.pop(0)
        del self._lanes[lane]
        if queue:
            self._lanes[lane] = queue
        del self._lane_of[job_id]
        return job_id

    def remove(self, job_id: int) -> bool:
        """Take a job out of the queue (it was cancelled); False if it was not waiting."""
        lane = self._lane_of.pop(job_id, None)
        if lane is None:
            return False
        queue = self._lanes[lane]
        queue.remove(job_id)  # a lane is one chat's jobs: a handful
        if not queue:
            del self._lanes[lane]
        return True

    def ahead_of(self, job_id: int) -> int:
        """How many jobs will be served before `job_id`: in every lane, those at a smaller depth,
        and at its own depth, those in the lanes before its own."""
        lane = self._lane_of[job_id]
        depth = self._lanes[lane].index(job_id)
        ahead, past_own = 0, False
        for other, queue in self._lanes.items():
            if other == lane:
                past_own = True
                ahead += depth
            else:
                ahead += min(len(queue), depth + (0 if past_own else 1))
        return ahead

    def order(self) -> dict[int, int]:
        """Every waiting job and how many are ahead of it, in one pass."""
        lanes = list(self._lanes.values())
        depth = max((len(queue) for queue in lanes), default=0)
        served = (queue[i] for i in range(depth) for queue in lanes if i < len(queue))
        return {job_id: ahead for ahead, job_id in enumerate(served)}
