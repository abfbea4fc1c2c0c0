// The baseline of `pnpm bench:fanout`: a raw `ws` broadcast server in its own process, plain
// JavaScript on node (no TypeScript loader, so its memory is the server's own). Every connection is
// a subscriber; on the command "broadcast <count> <intervalMs>" (stdin) it sends `count` messages
// shaped like a Woopdi task event, one due every `intervalMs` (stamped with the time it was due),
// each serialised once and written to every socket, then closes every socket with 1000 and prints "done".
//   PORT; prints "ready" once listening.
import { createInterface } from 'node:readline';
import { WebSocketServer } from 'ws';

const wss = new WebSocketServer({ port: Number(process.env.PORT), host: '127.0.0.1' });
wss.on('connection', (ws) => ws.on('error', () => undefined));
await new Promise((resolve) => wss.once('listening', resolve));
process.stdout.write('ready\n');

const taskId = '00000000-0000-4000-8000-000000000000';
function broadcast(count, intervalMs) {
  // Each message is stamped with the time it was due (start + (seq - 1) × interval), the producer's
  // clock, as Woopdi's worker stamps its events in its own process: a broadcaster that falls behind
  // its schedule cannot hide the backlog by stamping a message only when it gets round to sending it.
  const started = Date.now();
  let seq = 0;
  const tick = () => {
    while (seq < count && started + seq * intervalMs <= Date.now()) {
      seq++;
      const last = seq === count;
      const payload = JSON.stringify({
        taskId,
        seq,
        type: seq === 1 ? 'task_start' : last ? 'task_end' : 'progress',
        message: `Processing step ${seq}/${count}`,
        progress: seq / count,
        current: seq,
        total: count,
        at: new Date(started + (seq - 1) * intervalMs).toISOString(),
      });
      for (const ws of wss.clients) ws.send(payload);
    }
    if (seq < count) {
      setTimeout(tick, Math.max(0, started + seq * intervalMs - Date.now()));
      return;
    }
    for (const ws of wss.clients) ws.close(1000, 'done');
    process.stdout.write('done\n');
  };
  tick();
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, count, intervalMs] = line.trim().split(/\s+/);
  if (command === 'broadcast') broadcast(Number(count), Number(intervalMs));
});
process.once('SIGTERM', () => {
  wss.close();
  process.exit(0);
});
