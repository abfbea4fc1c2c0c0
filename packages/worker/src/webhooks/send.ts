// One HTTP attempt of a webhook delivery: connected to the address the SSRF guard checked (the
// request's DNS lookup is pinned to it, so a rebinding answer cannot redirect it), a hard timeout
// from connect to last byte, redirects never followed (a 3xx is just a failed attempt), and the
// response body read only up to a small cap.
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { ResolvedAddress } from '@woopdi/core';

/** Bytes of the response kept as the attempt's excerpt; the rest is not even read. */
export const RESPONSE_EXCERPT_BYTES = 1024;

export interface AttemptResult {
  statusCode: number | null;
  durationMs: number;
  /** Set when no HTTP answer came: timeout, connection refused, TLS… */
  error: string | null;
  responseExcerpt: string | null;
}

export interface SendOptions {
  url: URL;
  pinned: ResolvedAddress;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export function sendWebhook({ url, pinned, headers, body, timeoutMs }: SendOptions): Promise<AttemptResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address: pinned.address, family: pinned.family },
      ]);
    } else callback(null, pinned.address, pinned.family);
  };
  const client = url.protocol === 'https:' ? https : http;
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const finish = (result: Omit<AttemptResult, 'durationMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, durationMs: elapsed() });
    };
    const req = client.request(
      url,
      {
        method: 'POST',
        lookup,
        agent: false,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'Woopdi-Webhooks/1.0',
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        const done = () =>
          finish({
            statusCode: res.statusCode ?? null,
            error: null,
            responseExcerpt: Buffer.concat(chunks).toString('utf8').slice(0, RESPONSE_EXCERPT_BYTES),
          });
        res.on('data', (chunk: Buffer) => {
          if (kept < RESPONSE_EXCERPT_BYTES) {
            chunks.push(chunk.subarray(0, RESPONSE_EXCERPT_BYTES - kept));
            kept += Math.min(chunk.length, RESPONSE_EXCERPT_BYTES - kept);
          }
          if (kept >= RESPONSE_EXCERPT_BYTES) {
            // Enough to show what the receiver said; the rest of a large answer is not read.
            done();
            res.destroy();
          }
        });
        res.on('end', done);
        res.on('error', done);
        res.on('close', done);
      },
    );
    const timer = setTimeout(() => {
      finish({ statusCode: null, error: `timed out after ${timeoutMs} ms`, responseExcerpt: null });
      req.destroy();
    }, timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) =>
      finish({ statusCode: null, error: error.code ?? error.message, responseExcerpt: null }),
    );
    req.end(body);
  });
}
