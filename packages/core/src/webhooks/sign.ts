// Signing with the `standardwebhooks` package (the Standard Webhooks reference implementation):
// `webhook-signature` carries one `v1,<base64>` per live secret, space-separated, so a receiver
// holding either the new or the previous secret (during the 24 h after a rotation) verifies it.
import { Webhook } from 'standardwebhooks';

export interface SignedHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
}

export function signWebhook(
  secrets: string[],
  messageId: string,
  body: string,
  at = new Date(),
): SignedHeaders {
  const signatures = secrets.map((secret) => new Webhook(secret).sign(messageId, at, body));
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}

/** The webhook-id of a delivery: the same on every attempt and on a redelivery. */
export const webhookMessageId = (deliveryId: string) => `msg_${deliveryId.replace(/-/g, '')}`;

/** Parses "5s,5m,30m,2h" (ms, s, m, h) into milliseconds; undefined when malformed. */
export function parseDurations(value: string): number[] | undefined {
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  const out: number[] = [];
  for (const part of value.split(',')) {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(part);
    if (!m) return undefined;
    out.push(Number(m[1]) * unit[m[2]!]!);
  }
  return out;
}
