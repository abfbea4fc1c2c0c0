// Imported first by the api-serving entries (main-api, main). V8 lets the old generation grow to a
// few times what survived the last full collection before it collects again. On the api's hot path
// what reaches the old generation is mostly request state that was in flight during a young
// collection, already dead: under load the api held ~250 MB of RSS for ~40 MB of live objects
// (issue #11). A growing factor of 1.2 collects that sooner; the marking runs concurrently and
// incrementally, and the benchmark showed no cost in throughput or p99 (`pnpm bench`).
// `node --heap-growing-percent=N` on the command line takes precedence.
import { setFlagsFromString } from 'node:v8';

const FLAG = '--heap-growing-percent';
if (!process.execArgv.some((arg) => arg.startsWith(FLAG))) setFlagsFromString(`${FLAG}=20`);
