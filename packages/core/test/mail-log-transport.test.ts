import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.js';
import { createLogTransport } from '../src/mail/transport.js';

function capture() {
  let out = '';
  const destination = new Writable({
    write(chunk, _encoding, done) {
      out += String(chunk);
      done();
    },
  });
  return { logger: createLogger({ destination }), out: () => out };
}

const email = {
  to: 'ada@example.com',
  subject: 'Reset your password',
  html: '<p>reset</p>',
  text: 'Reset it here: https://app.example.com/reset-password?token=s3cr3t-one-time-token#x and ignore otherwise.',
};

describe('the outbox mail transport (no SendGrid)', () => {
  it('logs the link for a developer to click outside production', async () => {
    const { logger, out } = capture();
    await createLogTransport(logger).send(email);
    expect(out()).toContain('s3cr3t-one-time-token');
  });

  it("keeps the link's token out of the log in production", async () => {
    const { logger, out } = capture();
    await createLogTransport(logger, { showLinks: false }).send(email);
    expect(out()).not.toContain('s3cr3t-one-time-token');
    expect(out()).toContain('https://app.example.com/reset-password');
    expect(out()).toContain('ada@example.com');
  });
});
