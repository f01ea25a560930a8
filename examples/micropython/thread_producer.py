# A thread that produces many items: on the rp2 port `_thread` runs on the second core. It puts
# through its own Producer; a task on the first core takes the readings in batches.
import _thread
import asyncio
import time

import irqio

readings = irqio.Queue(256)
COUNT = 20000


def sample(i):
    return i * 7 % 4096  # stands in for an ADC read or an SPI transfer


def second_core():
    put = readings.producer().offer  # made in this thread, used only in this thread
    for i in range(COUNT):
        while not put(sample(i)):  # full: refused and counted; back off, then try again
            time.sleep_us(100)


async def main():
    _thread.start_new_thread(second_core, ())
    taken = 0
    in_order = True
    while taken < COUNT:
        for value in await readings.get_batch(64):
            in_order = in_order and value == sample(taken)
            taken += 1
    print("readings", taken, "in order", in_order, "refused while full", readings.overruns)


asyncio.run(main())
