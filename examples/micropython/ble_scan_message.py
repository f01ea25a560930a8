# BLE scan results from the Bluetooth stack's callback (its own context, not the asyncio task's)
# to tasks through an irqio.Message: a waiting task gets the latest advertiser; a result that
# arrives before the task read the previous one replaces it, counted in `overwrites`.
import asyncio

import bluetooth

import irqio

_IRQ_SCAN_RESULT = 5
_IRQ_SCAN_DONE = 6
seen = irqio.Message()
done = irqio.Event()


def on_ble(event, data):
    if event == _IRQ_SCAN_RESULT:
        addr_type, addr, adv_type, rssi, adv_data = data
        seen.set((bytes(addr), rssi))  # the stack reuses `addr`'s buffer: copy it
    elif event == _IRQ_SCAN_DONE:
        done.set()


async def report():
    while True:
        addr, rssi = await seen.wait()
        seen.clear()  # the next wait() waits for a newer result
        if not addr:
            return
        print("saw", addr.hex(), rssi, "dBm")


async def main():
    ble = bluetooth.BLE()
    ble.active(True)
    ble.irq(on_ble)
    ble.gap_scan(2000, 30000, 30000)  # 2 s of scanning
    reporter = asyncio.create_task(report())
    first = await seen.wait()  # any number of tasks may wait: this one only wants the first
    print("first advertiser", first[0].hex())
    await done.wait()
    seen.set((b"", 0))  # tells the reporter the scan is over
    await reporter
    print("scan done; results replaced before the reporter read them:", seen.overwrites)


asyncio.run(main())
