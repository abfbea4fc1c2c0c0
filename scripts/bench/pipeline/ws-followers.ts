// A load client of `pnpm bench:fanout`, in its own process: opens BENCH_SOCKETS websocket
// subscribers to BENCH_URL (at most BENCH_CONNECTING connecting at once), prints "connected <n>"
// once every one is open, then records for every frame the delay from the event's `at` to its
// arrival, and checks that each socket receives seq 1..BENCH_EXPECT exactly once, in order. When
// every socket has closed it prints "result <json>" (a millisecond histogram and the checks).
import WebSocket from 'ws';

const url = process.env.BENCH_URL!;
const sockets = Number(process.env.BENCH_SOCKETS);
const expected = Number(process.env.BENCH_EXPECT);
const connecting = Number(process.env.BENCH_CONNECTING || 100);

const histogram = new Map<number, number>();
const closeCodes = new Map<number, number>();
let frames = 0;
/** Sockets that received seq 1..expected exactly once, in order. */
let complete = 0;
let incomplete = 0;
let neverReceived = 0;
let open = 0;
let closed = 0;

function follow(): Promise<void> {
  return new Promise((opened) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let last = 0;
    let ok = true;
    ws.on('open', () => {
      open++;
      opened();
    });
    ws.on('message', (data) => {
      const event = JSON.parse(String(data)) as { seq: number; at: string };
      const delay = Math.max(0, Date.now() - Date.parse(event.at));
      histogram.set(delay, (histogram.get(delay) ?? 0) + 1);
      frames++;
      if (event.seq !== last + 1) ok = false;
      last = event.seq;
    });
    ws.on('error', () => undefined);
    ws.on('close', (code) => {
      closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
      if (last === 0) neverReceived++;
      else if (ok && last === expected) complete++;
      else incomplete++;
      opened(); // one that never opened frees its connecting slot too
      if (++closed === sockets) finish();
    });
  });
}

function finish() {
  const result = {
    sockets,
    frames,
    complete,
    incomplete,
    neverReceived,
    closeCodes: Object.fromEntries(closeCodes),
    histogram: [...histogram.entries()],
  };
  process.stdout.write(`result ${JSON.stringify(result)}\n`);
  process.exit(0);
}

let started = 0;
await Promise.all(
  Array.from({ length: Math.min(connecting, sockets) }, async () => {
    while (started < sockets) {
      started++;
      await follow();
    }
  }),
);
process.stdout.write(`connected ${open}\n`);
