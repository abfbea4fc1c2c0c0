import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const source = fileURLToPath(new URL('../src/log-destination.ts', import.meta.url));

/** Runs `body` in a fresh node process with `batchedDestination(fd)` bound to `out`. */
function run(body: string, out: string) {
  const script = `
    import { openSync } from 'node:fs';
    import { pino } from 'pino';
    import { batchedDestination } from ${JSON.stringify(source)};
    const destination = batchedDestination(openSync(${JSON.stringify(out)}, 'w'));
    const log = pino({ base: null, timestamp: false }, destination);
    ${body}
  `;
  return spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
  });
}

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { n: number }).n);

describe('the batched log destination', () => {
  it('writes every line, in order, across many event-loop turns', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'woopdi-log-')), 'out.log');
    const result = run(
      `let n = 0;
       const tick = () => { for (let i = 0; i < 50; i++) log.info({ n: n++ }, 'line'); if (n < 5000) setImmediate(tick); };
       tick();`,
      out,
    );
    expect(result.status, result.stderr).toBe(0);
    expect(lines(out)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
  });

  it('loses no line gathered in the last turn when the process exits at once', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'woopdi-log-')), 'out.log');
    const result = run(
      `for (let n = 0; n < 2000; n++) log.info({ n }, 'line');
       process.exit(3);`,
      out,
    );
    expect(result.status, result.stderr).toBe(3);
    expect(lines(out)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  });
});
