// The load generator where wrk is missing: autocannon in its own process, cycling "path<TAB>token"
// lines; prints the same one-line summary as wrk-pairs.lua.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';

const [port, file, duration, connections] = process.argv.slice(2);
const lines = readFileSync(file!, 'utf8')
  .split('\n')
  .map((l) => l.split('\t') as [string, string]);
let i = Math.floor(Math.random() * lines.length);
const r = await autocannon({
  url: `http://127.0.0.1:${port}`,
  connections: Number(connections),
  duration: Number(duration),
  requests: [
    {
      setupRequest: (req) => {
        i = (i + 1) % lines.length;
        const [path, token] = lines[i]!;
        return { ...req, method: 'GET', path, headers: token ? { authorization: `Bearer ${token}` } : {} };
      },
    },
  ],
});
process.stdout.write(
  `${JSON.stringify({ requests: r.requests.total, durationUs: r.duration * 1e6, p50Us: r.latency.p50 * 1000, p99Us: r.latency.p99 * 1000, errors: r.errors + r.timeouts, non2xx: r.non2xx })}\n`,
);
