// generate_image: a text prompt → an image from Replicate's HTTP predictions API → a PNG asset of the
// organization (source "ai_generation", the prompt in its meta), with the organization's logo in the
// bottom-left corner when it has one (the newest ready image asset uploaded with role "logo").
//
// Failure policy: HTTP 5xx, network errors and timeouts throw, so graphile-worker retries with
// backoff, and a retry resumes polling the same prediction (its id is recorded in an event) rather
// than paying for a second one. A prediction Replicate reports failed or canceled, or a request it
// refuses (4xx: bad token, invalid input), is a definite failure: the task fails at once.
import { setTimeout as sleep } from 'node:timers/promises';
import { readTaskEvents, replicateTokenFor, storeAsset } from '@woopdi/core';
import { assets, tasks } from '@woopdi/db';
import { and, desc, eq, like, sql } from 'drizzle-orm';
import { TaskCancelled, TaskFailed } from '../task-runtime.js';
import { defineKind } from './define.js';

export interface GenerateImageOptions {
  /** Pause between two polls of the prediction; default 1000 ms. */
  pollIntervalMs?: number;
  /** Timeout of each API request; default 30 s. */
  requestTimeoutMs?: number;
  /** Timeout of the image download; default 120 s. */
  downloadTimeoutMs?: number;
  /** How long one attempt waits for the prediction before it gives up (and is retried); default 10 min. */
  maxWaitMs?: number;
  /** Largest image accepted from Replicate; default 50 MB. */
  maxImageBytes?: number;
}

interface Prediction {
  id: string;
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
  output?: unknown;
  error?: unknown;
}

const STAGES = ['requesting', 'generating', 'downloading', 'processing', 'storing'] as const;
/** 429s answered within one request before the attempt gives up (and is retried later). */
const MAX_THROTTLED = 5;
const LOGO_MAX_BYTES = 5 * 1024 * 1024;

/** Retry-After in milliseconds (seconds or an HTTP date), bounded to 1 ms..60 s; 1 s when absent. */
export function retryAfterMs(header: string | null, now = Date.now()): number {
  if (!header) return 1000;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : new Date(header).getTime() - now;
  return Number.isFinite(ms) ? Math.min(60_000, Math.max(1, ms)) : 1000;
}

async function errorDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { detail?: unknown; title?: unknown; error?: unknown };
    return String(body.detail ?? body.error ?? body.title ?? text);
  } catch {
    return text.slice(0, 300) || res.statusText;
  }
}

/** The image URL of a prediction's output: a URL, or the first of a list of them. */
function outputUrl(output: unknown): string | undefined {
  const first = Array.isArray(output) ? output[0] : output;
  return typeof first === 'string' && /^https?:\/\//.test(first) ? first : undefined;
}

async function readCapped(res: Response, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.length;
    if (size > maxBytes) throw new TaskFailed(`The generated image is larger than ${maxBytes} bytes.`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

export function createGenerateImageKind(options: GenerateImageOptions = {}) {
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  const downloadTimeoutMs = options.downloadTimeoutMs ?? 120_000;
  const maxWaitMs = options.maxWaitMs ?? 10 * 60_000;
  const maxImageBytes = options.maxImageBytes ?? 50 * 1024 * 1024;

  return defineKind('generate_image', async (input, report, ctx) => {
    const { db, config, storage, organizationId } = ctx;
    const apiBase = config.replicate.apiBase;
    const model = config.replicate.model;
    const credentials = await replicateTokenFor({ db, config }, organizationId);
    if (!credentials) {
      throw new TaskFailed(
        'No Replicate API token: store one as the organization secret REPLICATE_API_TOKEN, or set REPLICATE_API_TOKEN on the server.',
      );
    }

    /** One request to Replicate's API, waiting out 429s as Retry-After asks. */
    const replicate = async (path: string, init: { method?: string; body?: unknown } = {}) => {
      for (let throttled = 0; ; throttled++) {
        const res = await fetch(`${apiBase}${path}`, {
          method: init.method ?? 'GET',
          headers: {
            authorization: `Bearer ${credentials.token}`,
            ...(init.body !== undefined && { 'content-type': 'application/json' }),
          },
          ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
          signal: AbortSignal.timeout(requestTimeoutMs),
        });
        if (res.status === 429 && throttled < MAX_THROTTLED) {
          await res.body?.cancel();
          await sleep(retryAfterMs(res.headers.get('retry-after')));
          continue;
        }
        if (res.ok) return (await res.json()) as Prediction;
        const detail = await errorDetail(res);
        // 5xx and persistent 429: worth another attempt later. Other 4xx: Replicate will not change its mind.
        if (res.status >= 500 || res.status === 429)
          throw new Error(`Replicate answered ${res.status}: ${detail}`);
        throw new TaskFailed(`Replicate refused the request (${res.status}): ${detail}`);
      }
    };

    const cancelRequested = async () => {
      const [row] = await db
        .select({ cancelRequestedAt: tasks.cancelRequestedAt })
        .from(tasks)
        .where(eq(tasks.id, report.taskId));
      return row?.cancelRequestedAt != null;
    };
    let stageIndex = 0;
    const stage = async <T>(name: (typeof STAGES)[number], message: string, run: () => Promise<T>) => {
      await report.stageStart(name, message);
      const result = await run();
      await report.stageEnd(name);
      stageIndex++;
      await report.progress({ current: stageIndex, total: STAGES.length, message: `${message}: done` });
      return result;
    };

    // 1. requesting: create the prediction, or pick up the one an earlier attempt created.
    const earlier = (await readTaskEvents(db, report.taskId))
      .map((e) => e.data?.predictionId)
      .filter((id): id is string => typeof id === 'string')
      .at(-1);
    const predictionId = await stage('requesting', 'Requesting the image from Replicate', async () => {
      if (earlier) {
        await report.update(`Resuming prediction ${earlier}`, { predictionId: earlier });
        return earlier;
      }
      const modelInput = {
        prompt: input.prompt,
        ...(input.guidance !== undefined && { guidance: input.guidance }),
        ...(input.steps !== undefined && { num_inference_steps: input.steps }),
        output_format: 'png',
      };
      // "owner/name:version" pins a version; "owner/name" runs the model's latest.
      const [name, version] = model.split(':');
      const created = version
        ? await replicate('/v1/predictions', { method: 'POST', body: { version, input: modelInput } })
        : await replicate(`/v1/models/${name}/predictions`, { method: 'POST', body: { input: modelInput } });
      await report.update(`Prediction ${created.id} created (${created.status})`, {
        predictionId: created.id,
        status: created.status,
      });
      return created.id;
    });

    // 2. generating: poll until Replicate is done.
    const prediction = await stage('generating', 'Generating', async () => {
      const deadline = Date.now() + maxWaitMs;
      let last: string | undefined;
      for (;;) {
        const p = await replicate(`/v1/predictions/${predictionId}`);
        if (p.status !== last) {
          last = p.status;
          await report.update(`Replicate: ${p.status}`, { predictionId, status: p.status });
        }
        if (p.status === 'succeeded') return p;
        if (p.status === 'failed') {
          throw new TaskFailed(
            `Replicate could not generate the image: ${String(p.error ?? 'no reason given')}`,
          );
        }
        if (p.status === 'canceled') throw new TaskFailed('The prediction was canceled on Replicate.');
        if (await cancelRequested()) {
          // Stop paying for a result nobody wants; the task ends cancelled either way.
          await replicate(`/v1/predictions/${predictionId}/cancel`, { method: 'POST' }).catch(() => {});
          throw new TaskCancelled('The task was cancelled.');
        }
        if (Date.now() > deadline) {
          throw new Error(
            `Replicate has not finished prediction ${predictionId} after ${maxWaitMs / 1000} s.`,
          );
        }
        await sleep(pollIntervalMs);
      }
    });

    // 3. downloading
    const url = outputUrl(prediction.output);
    if (!url) throw new TaskFailed('Replicate reported success but returned no image URL.');
    const original = await stage('downloading', 'Downloading the image', async () => {
      const res = await fetch(url, { signal: AbortSignal.timeout(downloadTimeoutMs) });
      if (res.status >= 500) throw new Error(`Downloading the image failed with ${res.status}.`);
      if (!res.ok) throw new TaskFailed(`The image is no longer available from Replicate (${res.status}).`);
      return readCapped(res, maxImageBytes);
    });

    // 4. processing: PNG, with the organization's logo bottom-left when it has one.
    const processed = await stage('processing', 'Processing the image', async () => {
      // Loaded at the first image, not at start-up: most processes never generate one.
      const { default: sharp } = await import('sharp');
      const image = sharp(original, { failOn: 'error' });
      const { width = 0, height = 0 } = await image.metadata().catch(() => {
        throw new TaskFailed('Replicate returned something that is not an image.');
      });
      const [logo] = await db
        .select()
        .from(assets)
        .where(
          and(
            eq(assets.organizationId, organizationId),
            eq(assets.status, 'ready'),
            like(assets.contentType, 'image/%'),
            sql`${assets.meta}->>'role' = 'logo'`,
          ),
        )
        .orderBy(desc(assets.createdAt))
        .limit(1);
      if (!logo || logo.size > LOGO_MAX_BYTES || width < 32 || height < 32) {
        return { png: await image.png().toBuffer(), logoAssetId: null };
      }
      try {
        const chunks: Buffer[] = [];
        for await (const chunk of await storage.read(logo.storageKey))
          chunks.push(Buffer.from(chunk as Buffer));
        // About a fifth of the width, inside a margin of 3%.
        const margin = Math.round(Math.min(width, height) * 0.03);
        const box = Math.max(8, Math.round(Math.min(width, height) * 0.2));
        const mark = await sharp(Buffer.concat(chunks))
          .resize({ width: box, height: box, fit: 'inside' })
          .png()
          .toBuffer({ resolveWithObject: true });
        const png = await image
          .composite([{ input: mark.data, left: margin, top: height - mark.info.height - margin }])
          .png()
          .toBuffer();
        return { png, logoAssetId: logo.id };
      } catch (err) {
        await report.update('The organization logo could not be applied; the image is stored without it.', {
          logoAssetId: logo.id,
          error: err instanceof Error ? err.message : String(err),
        });
        return { png: await sharp(original).png().toBuffer(), logoAssetId: null };
      }
    });

    // 5. storing
    const asset = await stage('storing', 'Storing the image', async () => {
      const [task] = await db
        .select({ createdBy: tasks.createdBy })
        .from(tasks)
        .where(eq(tasks.id, report.taskId));
      return storeAsset(
        { db, storage },
        {
          organizationId,
          uploadedBy: task?.createdBy ?? null,
          filename: `image-${predictionId}.png`,
          contentType: 'image/png',
          source: 'ai_generation',
          meta: {
            prompt: input.prompt,
            model,
            predictionId,
            taskId: report.taskId,
            ...(input.guidance !== undefined && { guidance: input.guidance }),
            ...(input.steps !== undefined && { steps: input.steps }),
            ...(processed.logoAssetId && { logoAssetId: processed.logoAssetId }),
          },
          body: processed.png,
        },
      );
    });
    const download = await storage.signedDownloadUrl(asset.storageKey, {
      expiresInSeconds: config.storage.signedUrlTtlSeconds,
      filename: asset.filename,
      contentType: asset.contentType,
    });
    return {
      message: 'Image ready',
      data: {
        assetId: asset.id,
        // Short-lived: assets.get answers a fresh one.
        downloadUrl: download.url,
        downloadUrlExpiresAt: download.expiresAt.toISOString(),
        predictionId,
      },
    };
  });
}

export const generateImage = createGenerateImageKind();
