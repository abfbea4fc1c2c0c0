// The SSRF guard's address classes and its resolution check (an injected resolver: no DNS here).
import { describe, expect, it } from 'vitest';
import { checkTarget, isPrivateAddress, parseTargetUrl } from '../src/webhooks/ssrf.js';

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.100.100.200',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:a9fe:a9fe',
    '64:ff9b::a00:1',
    'not-an-address',
  ])('%s is refused', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(['93.184.215.14', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    '%s is public',
    (address) => {
      expect(isPrivateAddress(address)).toBe(false);
    },
  );
});

describe('checkTarget', () => {
  const resolver = (answers: Record<string, string[]>) => async (host: string) =>
    (answers[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }) as const);

  it('refuses a name with any private answer, and allows it when private targets are allowed', async () => {
    const resolve = resolver({ 'mixed.example': ['93.184.215.14', '10.0.0.1'] });
    const url = parseTargetUrl('https://mixed.example/hook', true);
    await expect(checkTarget(url, { allowPrivate: false, requireHttps: true, resolve })).rejects.toThrow(
      /resolves to 10\.0\.0\.1/,
    );
    await expect(checkTarget(url, { allowPrivate: true, requireHttps: true, resolve })).resolves.toEqual({
      address: '93.184.215.14',
      family: 4,
    });
  });

  it('refuses literal private addresses, names that do not resolve, and bad URLs', async () => {
    const resolve = resolver({});
    for (const raw of [
      'http://127.0.0.1:8080/x',
      'http://[::1]/x',
      'http://169.254.169.254/latest/meta-data',
    ]) {
      await expect(
        checkTarget(parseTargetUrl(raw, false), { allowPrivate: false, requireHttps: false, resolve }),
      ).rejects.toThrow(/private, loopback/);
    }
    await expect(
      checkTarget(parseTargetUrl('https://nowhere.example/', true), {
        allowPrivate: false,
        requireHttps: true,
        resolve,
      }),
    ).rejects.toThrow(/does not resolve/);
    expect(() => parseTargetUrl('http://hooks.example.com/', true)).toThrow(/https/);
    expect(() => parseTargetUrl('ftp://hooks.example.com/', false)).toThrow(/http or https/);
    expect(() => parseTargetUrl('https://user:pw@hooks.example.com/', false)).toThrow(/credentials/);
    expect(() => parseTargetUrl('not a url', false)).toThrow(/absolute URL/);
  });
});
