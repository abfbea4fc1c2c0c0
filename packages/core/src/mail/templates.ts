import { z } from 'zod';

// Each template: its payload schema and a renderer. The payload schemas are also the contract of
// the email_outbox rows (and of the send_email job), so a bad payload fails before anything is sent.
// Links are built from WEB_CLIENT_URL; anything but http(s) is a bug, never a link to send.
const link = z.url({ protocol: /^https?$/ });

export const emailPayloads = {
  verify_email: z.object({ name: z.string().nullish(), url: link }),
  reset_password: z.object({ name: z.string().nullish(), url: link }),
  password_changed: z.object({ name: z.string().nullish(), email: z.email() }),
  /** A sign-in setting of the account changed (two-factor turned on or off). */
  security_changed: z.object({
    name: z.string().nullish(),
    email: z.email(),
    change: z.enum(['two_factor_enabled', 'two_factor_disabled']),
  }),
  invitation: z.object({
    inviterName: z.string(),
    organizationName: z.string(),
    role: z.string(),
    url: link,
  }),
  /** To each ADMIN when an outbound webhook endpoint was disabled after failing continuously. */
  webhook_disabled: z.object({
    organizationName: z.string(),
    endpointUrl: z.string(),
    failingSince: z.string(),
    lastError: z.string(),
  }),
  /** To the user when a superadmin starts acting as them (admin.impersonate). */
  support_access: z.object({
    name: z.string().nullish(),
    actorEmail: z.email(),
    reason: z.string(),
    endsAt: z.string(),
    allowWrite: z.boolean(),
  }),
} as const;

export type EmailTemplate = keyof typeof emailPayloads;
export type EmailPayload<T extends EmailTemplate> = z.infer<(typeof emailPayloads)[T]>;
export const emailTemplates = Object.keys(emailPayloads) as EmailTemplate[];

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function layout(title: string, paragraphs: string[], action?: { label: string; url: string }): string {
  const body = paragraphs.map((p) => `<p style="margin:0 0 16px">${escapeHtml(p)}</p>`).join('\n');
  const button = action
    ? `<p style="margin:24px 0"><a href="${escapeHtml(action.url)}" style="background:#4f46e5;color:#fff;padding:12px 20px;border-radius:6px;text-decoration:none;display:inline-block">${escapeHtml(action.label)}</a></p>
<p style="margin:0 0 16px;font-size:13px;color:#555">Or paste this link into your browser: ${escapeHtml(action.url)}</p>`
    : '';
  return `<!doctype html><html><body style="font-family:system-ui,sans-serif;background:#f6f7f9;padding:24px">
<div style="max-width:560px;margin:0 auto;background:#fff;padding:32px;border-radius:8px">
<h1 style="font-size:20px;margin:0 0 16px">${escapeHtml(title)}</h1>
${body}
${button}
<p style="margin:32px 0 0;font-size:12px;color:#888">Sent by Woopdi. If you did not expect this email you can ignore it.</p>
</div></body></html>`;
}

const hello = (name: string | null | undefined) => (name ? `Hi ${name},` : 'Hi,');

const renderers: { [T in EmailTemplate]: (p: EmailPayload<T>) => RenderedEmail } = {
  verify_email: (p) => ({
    subject: 'Confirm your Woopdi account',
    html: layout(
      'Confirm your email',
      [
        hello(p.name),
        'Confirm your email address to finish setting up your account. The link is valid for 24 hours.',
      ],
      { label: 'Confirm email', url: p.url },
    ),
    text: `${hello(p.name)}\n\nConfirm your email address to finish setting up your account (valid for 24 hours):\n${p.url}\n`,
  }),
  reset_password: (p) => ({
    subject: 'Reset your Woopdi password',
    html: layout(
      'Reset your password',
      [
        hello(p.name),
        'Someone asked to reset the password of this account. The link is valid for 2 hours and works once.',
      ],
      { label: 'Choose a new password', url: p.url },
    ),
    text: `${hello(p.name)}\n\nReset your password with this link (valid for 2 hours, single use):\n${p.url}\n\nIf you did not ask for this, ignore this email.\n`,
  }),
  password_changed: (p) => ({
    subject: 'Your Woopdi password was changed',
    html: layout('Your password was changed', [
      hello(p.name),
      `The password of ${p.email} was just changed and every session was signed out.`,
      'If this was not you, reset your password now and contact support.',
    ]),
    text: `${hello(p.name)}\n\nThe password of ${p.email} was just changed and every session was signed out.\nIf this was not you, reset your password now and contact support.\n`,
  }),
  security_changed: (p) => {
    const what =
      p.change === 'two_factor_enabled'
        ? 'Two-factor sign-in was turned on'
        : 'Two-factor sign-in was turned off';
    const detail =
      p.change === 'two_factor_enabled'
        ? 'Signing in now also asks for a code from your authenticator app (or one of your recovery codes).'
        : 'Signing in now needs only your password again.';
    const lines = [
      `${what} for ${p.email}, and every other session was signed out.`,
      detail,
      'If this was not you, reset your password now and contact support.',
    ];
    return {
      subject: `Woopdi security: ${what.toLowerCase()}`,
      html: layout(what, [hello(p.name), ...lines]),
      text: `${hello(p.name)}\n\n${lines.join('\n')}\n`,
    };
  },
  invitation: (p) => ({
    subject: `${p.inviterName} invited you to join ${p.organizationName} on Woopdi`,
    html: layout(
      `Join ${p.organizationName}`,
      [
        `${p.inviterName} invited you to join ${p.organizationName} as ${p.role}.`,
        'The invitation is valid for 7 days.',
      ],
      { label: 'Accept invitation', url: p.url },
    ),
    text: `${p.inviterName} invited you to join ${p.organizationName} as ${p.role}.\n\nAccept the invitation (valid for 7 days):\n${p.url}\n`,
  }),
  webhook_disabled: (p) => ({
    subject: `A webhook endpoint of ${p.organizationName} was disabled`,
    html: layout('Webhook endpoint disabled', [
      `Deliveries to ${p.endpointUrl} have failed continuously since ${p.failingSince}, so the endpoint was disabled and receives no more events.`,
      `The last attempt: ${p.lastError}.`,
      'Fix the receiver, then enable the endpoint again (webhooks.update) and redeliver what it missed.',
    ]),
    text: `Deliveries to ${p.endpointUrl} have failed continuously since ${p.failingSince}, so the endpoint was disabled.\nThe last attempt: ${p.lastError}.\nFix the receiver, enable the endpoint again (webhooks.update) and redeliver what it missed.\n`,
  }),
  support_access: (p) => {
    const mode = p.allowWrite ? 'may make changes' : 'can look but not change anything';
    const lines = [
      `Support (${p.actorEmail}) started a session acting as your account, for this reason: ${p.reason}`,
      `It ends at ${p.endsAt} at the latest; during it they ${mode}. Everything done is recorded in the audit log of your organizations.`,
      'If you did not ask for support, reply to this email or contact us.',
    ];
    return {
      subject: 'Support is accessing your Woopdi account',
      html: layout('Support access to your account', [hello(p.name), ...lines]),
      text: `${hello(p.name)}\n\n${lines.join('\n')}\n`,
    };
  },
};

/** Validates the payload against the template's schema and renders subject, HTML and text. */
export function renderEmail<T extends EmailTemplate>(template: T, payload: unknown): RenderedEmail {
  const schema = emailPayloads[template];
  if (!schema) throw new Error(`unknown email template "${template}"`);
  const parsed = schema.parse(payload) as EmailPayload<T>;
  return renderers[template](parsed);
}
