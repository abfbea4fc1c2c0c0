import { createRequire } from 'node:module';
import type sgClient from '@sendgrid/client';
import type sgMail from '@sendgrid/mail';
import type { Logger } from '../logger.js';
import type { RenderedEmail } from './templates.js';

export interface OutgoingEmail extends RenderedEmail {
  to: string;
  /** The outbox row id, sent as a custom arg so provider events can be matched back. */
  outboxId?: string;
}

export interface MailTransport {
  readonly name: string;
  send(email: OutgoingEmail): Promise<{ providerId?: string }>;
}

/**
 * Without SendGrid the email_outbox row is the delivery, and the log line names the email. In
 * development it carries the link so a developer can click it from the terminal; in production
 * (`showLinks: false`) the link's query and fragment are withheld: they carry one-time tokens
 * (password reset, verification, invitation), and the log is read by more people than the inbox.
 */
export function createLogTransport(logger: Logger, options: { showLinks?: boolean } = {}): MailTransport {
  const showLinks = options.showLinks ?? true;
  return {
    name: 'outbox',
    async send(email) {
      const found = email.text.match(/https?:\/\/\S+/)?.[0];
      const link = found && !showLinks ? withheld(found) : found;
      logger.info(
        { to: email.to, subject: email.subject, link },
        `email (outbox): ${email.subject} → ${email.to}${link ? ` ${link}` : ''}`,
      );
      return {};
    },
  };
}

/** The link without what may carry a credential: origin and path only. */
function withheld(link: string): string {
  try {
    const url = new URL(link);
    return `${url.origin}${url.pathname}${url.search || url.hash ? ' [token withheld: see email_outbox]' : ''}`;
  } catch {
    return '[link withheld: see email_outbox]';
  }
}

export interface SendGridOptions {
  apiKey: string;
  from: string;
  /** Overrides https://api.sendgrid.com/ (tests point it at a local server). */
  baseUrl?: string;
}

// The SDK is loaded on the first createSendGridTransport(): without SENDGRID_API_KEY it is never loaded.
const require = createRequire(import.meta.url);

export function createSendGridTransport(options: SendGridOptions): MailTransport {
  // The packages' typings only describe their singletons; the classes hang off them at runtime.
  const { Client } = require('@sendgrid/client') as { Client: new () => typeof sgClient };
  const { MailService } = require('@sendgrid/mail') as { MailService: new () => typeof sgMail };
  // Own instances, not the module singletons, so two configurations can coexist in one process.
  const client = new Client();
  client.setApiKey(options.apiKey);
  if (options.baseUrl) client.setDefaultRequest('baseUrl', options.baseUrl);
  const mail = new MailService();
  mail.setClient(client);
  return {
    name: 'sendgrid',
    async send(email) {
      const [response] = await mail.send({
        to: email.to,
        from: options.from,
        subject: email.subject,
        text: email.text,
        html: email.html,
        ...(email.outboxId ? { customArgs: { outboxId: email.outboxId } } : {}),
      });
      const id = response.headers['x-message-id'];
      return { providerId: typeof id === 'string' ? id : undefined };
    },
  };
}
