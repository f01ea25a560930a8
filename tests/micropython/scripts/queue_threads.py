# Two GIL-less _thread producers x 50,000 tagged items into Queue(256): every item arrives once,
# in order per producer; every refusal is counted. Several runs in one process.
import _thread
import asyncio
import sys

import irqio

N = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3


async def run_once():
    q = irqio.Queue(256)
    attempts = [0, 0]
    done = [False, False]

    def producer(tag):
        tries = 0
        for i in range(N):
            tries += 1
            while not q.offer((tag, i)):
                tries += 1
        attempts[tag] = tries
        done[tag] = True

    _thread.start_new_thread(producer, (0,))
    _thread.start_new_thread(producer, (1,))
    last = [-1, -1]
    in_order = True
    taken = 0
    while taken < 2 * N:
        tag, i = await q.get()
        if i != last[tag] + 1:
            in_order = False
        last[tag] = i
        taken += 1
    while not (done[0] and done[1]):
        await asyncio.sleep_ms(1)
    conserved = attempts[0] + attempts[1] == 2 * N + q.overruns and len(q) == 0
    print("run", taken, "in-order", in_order, "last", last, "conserved", conserved)


for _ in range(RUNS):
    asyncio.run(run_once())
print("MICROPYTHON-OK")
