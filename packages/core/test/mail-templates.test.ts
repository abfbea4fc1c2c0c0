import { describe, expect, it } from 'vitest';
import { type EmailPayload, type EmailTemplate, emailTemplates, renderEmail } from '../src/mail/templates.js';

const samples: { [T in EmailTemplate]: EmailPayload<T> } = {
  verify_email: { name: 'Ada', url: 'https://app.woopdi.test/verify-email?token=v3r1fy' },
  reset_password: { name: null, url: 'https://app.woopdi.test/reset-password?token=r3s3t' },
  password_changed: { name: 'Ada', email: 'ada@woopdi.test' },
  security_changed: { name: 'Ada', email: 'ada@woopdi.test', change: 'two_factor_enabled' },
  invitation: {
    inviterName: 'Grace Hopper',
    organizationName: 'Analytical Engines',
    role: 'MEMBER',
    url: 'https://app.woopdi.test/invitations/accept?token=1nv1t3',
  },
  webhook_disabled: {
    organizationName: 'Analytical Engines',
    endpointUrl: 'https://hooks.example.com/woopdi',
    failingSince: '2026-12-01T09:30:00.000Z',
    lastError: 'HTTP 500',
  },
  support_access: {
    name: 'Ada',
    actorEmail: 'support@woopdi.test',
    reason: 'Ticket 4411: the export fails',
    endsAt: '2026-12-01T10:00:00.000Z',
    allowWrite: false,
  },
};

describe('every template renders', () => {
  it('the sample payloads cover every template', () => {
    expect(Object.keys(samples).sort()).toEqual([...emailTemplates].sort());
  });

  it.each(emailTemplates)(
    '%s renders a subject, an HTML page and a text part with no placeholders',
    (template) => {
      const email = renderEmail(template, samples[template]);
      expect(email.subject.length).toBeGreaterThan(5);
      expect(email.subject).not.toContain('\n');
      expect(email.html.startsWith('<!doctype html>')).toBe(true);
      expect(email.html).toContain('</html>');
      expect(email.text.length).toBeGreaterThan(20);
      for (const part of [email.subject, email.html, email.text]) {
        expect(part).not.toMatch(/\{\{|\}\}|undefined|null|\[object Object\]/);
      }
    },
  );

  it.each(['verify_email', 'reset_password', 'invitation'] as const)(
    '%s puts its link in the text part and in the HTML button',
    (template) => {
      const { url } = samples[template];
      const email = renderEmail(template, samples[template]);
      expect(email.text).toContain(url);
      expect(email.html).toContain(`href="${url}"`);
    },
  );

  it('the greeting uses the name when there is one', () => {
    expect(renderEmail('verify_email', samples.verify_email).text.startsWith('Hi Ada,')).toBe(true);
    expect(renderEmail('reset_password', samples.reset_password).text.startsWith('Hi,')).toBe(true);
  });

  it('password_changed names the account and carries no link', () => {
    const email = renderEmail('password_changed', samples.password_changed);
    expect(email.text).toContain('ada@woopdi.test');
    expect(email.html).toContain('ada@woopdi.test');
    expect(email.text).not.toMatch(/https?:\/\//);
    expect(email.html).not.toContain('href=');
  });

  it('security_changed says what changed, on which account, and what to do if it was not you', () => {
    const on = renderEmail('security_changed', samples.security_changed);
    expect(on.subject).toMatch(/two-factor sign-in was turned on/i);
    expect(on.text).toContain('ada@woopdi.test');
    expect(on.text).toMatch(/every other session was signed out/);
    expect(on.text).toMatch(/If this was not you, reset your password/);
    const off = renderEmail('security_changed', {
      ...samples.security_changed,
      change: 'two_factor_disabled',
    });
    expect(off.subject).toMatch(/turned off/);
    expect(() => renderEmail('security_changed', { email: 'ada@woopdi.test', change: 'other' })).toThrow();
  });
});

describe('invitation', () => {
  it('the subject names the inviter and the organization, rendered (the old system sent "{{ organization_name }}")', () => {
    const { subject } = renderEmail('invitation', samples.invitation);
    expect(subject).toBe('Grace Hopper invited you to join Analytical Engines on Woopdi');
    expect(subject).not.toContain('{{');
  });

  it('the body names the role', () => {
    const email = renderEmail('invitation', samples.invitation);
    expect(email.text).toContain('as MEMBER');
    expect(email.html).toContain('as MEMBER');
  });

  it('HTML escapes a malicious organization and inviter name', () => {
    const email = renderEmail('invitation', {
      ...samples.invitation,
      organizationName: '<script>alert("x")</script> & Co',
      inviterName: `<img src=x onerror='steal()'>`,
    });
    expect(email.html).not.toContain('<script>');
    expect(email.html).not.toContain('<img');
    expect(email.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co');
    expect(email.html).toContain('&lt;img src=x onerror=&#39;steal()&#39;&gt;');
    // The text part is plain text: it shows the name as typed.
    expect(email.text).toContain('<script>alert("x")</script> & Co');
  });

  it('a quote in the link cannot break out of the href attribute', () => {
    const url = 'https://app.woopdi.test/accept?token=a"onmouseover="steal()';
    const email = renderEmail('invitation', { ...samples.invitation, url });
    expect(email.html).not.toContain('"onmouseover="');
    expect(email.html).toContain(
      'href="https://app.woopdi.test/accept?token=a&quot;onmouseover=&quot;steal()"',
    );
  });
});

describe('payload validation', () => {
  it('a payload missing a field is refused', () => {
    const { organizationName: _dropped, ...missing } = samples.invitation;
    expect(() => renderEmail('invitation', missing)).toThrow(/organizationName/);
    expect(() => renderEmail('password_changed', { name: 'Ada' })).toThrow(/email/);
  });

  it('a link that is not a URL is refused', () => {
    expect(() => renderEmail('verify_email', { name: 'Ada', url: 'not a url' })).toThrow();
    expect(() => renderEmail('invitation', { ...samples.invitation, url: '/relative/path' })).toThrow();
  });

  it('an unknown template is refused', () => {
    expect(() => renderEmail('welcome' as EmailTemplate, {})).toThrow(/unknown email template "welcome"/);
  });
});
