/**
 * Issue 15 (SSRF): http_request checked only the host name against the allow-list, so a listed
 * name that resolves to a loopback, private or link-local address reached internal services.
 * Now every resolved address must be public unless the allow-list names that address itself,
 * and the request connects to the address that was checked.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedAddress, isInternalAddress } from '../../src/capabilities/tools/address-policy.ts';
import { httpRequestTool } from '../../src/capabilities/tools/http-request.ts';
import { makeSandbox, type TempSandbox } from '../unit/capabilities/tools/tool-context.ts';

describe('issue-15: which addresses are internal', () => {
  it.each([
    '127.0.0.1',
    '127.1.2.3',
    '10.0.0.5',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '::1',
    '::',
    'fe80::1',
    'fd00::1',
    'fc00::abcd',
    '::ffff:127.0.0.1',
    '::ffff:10.0.0.1',
  ])('%s is internal', (address) => expect(isInternalAddress(address)).toBe(true));

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '2001:4860:4860::8888', '::ffff:8.8.8.8'])(
    '%s is public',
    (address) => expect(isInternalAddress(address)).toBe(false),
  );

  it('refuses a name that resolves to loopback unless the address is named', async () => {
    await expect(checkedAddress('localhost', new Set(['localhost']))).rejects.toMatchObject({
      code: 'host_not_allowed',
    });
    await expect(checkedAddress('169.254.169.254', new Set())).rejects.toMatchObject({
      code: 'host_not_allowed',
    });
    await expect(checkedAddress('[::ffff:7f00:1]', new Set())).rejects.toMatchObject({
      code: 'host_not_allowed',
    });
    await expect(checkedAddress('127.0.0.1', new Set(['127.0.0.1']))).resolves.toEqual({
      address: '127.0.0.1',
      family: 4,
    });
  });
});

describe('issue-15: http_request and internal addresses', () => {
  let server: Server;
  let port: number;
  let hits = 0;
  let sandbox: TempSandbox;
  beforeAll(async () => {
    sandbox = await makeSandbox();
    server = createServer((_req, res) => {
      hits += 1;
      res.end('internal secret');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await sandbox.cleanup();
  });

  const get = (url: string, allowed: string[]) =>
    httpRequestTool.run({ url }, sandbox.ctx({ httpAllowedHosts: allowed })) as Promise<{
      status: number;
      body: string;
    }>;

  it('refuses an allowed name that resolves to 127.0.0.1, and never connects', async () => {
    const before = hits;
    await expect(get(`http://localhost:${port}/`, [`localhost:${port}`])).rejects.toMatchObject({
      code: 'host_not_allowed',
      message: expect.stringContaining('resolves to'),
    });
    expect(hits).toBe(before);
  });

  it('admits the internal address when the allow-list names the address itself', async () => {
    const res = await get(`http://localhost:${port}/`, [`localhost:${port}`, '127.0.0.1', '::1']);
    expect(res).toMatchObject({ status: 200, body: 'internal secret' });
  });

  it('admits an IPv4-mapped loopback literal only as the allow-list names it', async () => {
    await expect(
      get(`http://[::ffff:127.0.0.1]:${port}/`, [`[::ffff:7f00:1]:${port}`, 'other']),
    ).resolves.toMatchObject({ status: 200 });
    await expect(
      get(`http://[::ffff:127.0.0.1]:${port}/`, [`[::ffff:7f00:1]:${port + 1}`]),
    ).rejects.toMatchObject({ code: 'host_not_allowed' });
  });
});
