/**
 * rediss:// (Redis over TLS): STREAMCHECK_REDIS_URL accepts it, and ioredis speaks TLS for it.
 * The test makes its own CA-less self-signed certificate for 127.0.0.1 (openssl), starts a
 * redis-server of its own with TLS only on a free loopback port, and talks to it from a child
 * process that trusts the certificate through NODE_EXTRA_CA_CERTS (verification stays on).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { e2ePolicy } from '../../src/harness/e2e/services/index.ts';
import { freeLoopbackPorts } from '../../src/harness/e2e/services/local.ts';
import { checkRedisUrl } from '../../src/harness/e2e/services/endpoints.ts';

const START_TIMEOUT_MS = 15_000;
const PROBE_TIMEOUT_MS = 30_000;
const PROBE = fileURLToPath(new URL('../fixtures/tls/rediss-probe.ts', import.meta.url));

const policy = e2ePolicy();

describe.skipIf(policy === 'off')('rediss:// against a TLS redis-server of our own', () => {
  let server: ChildProcess | undefined;
  let dir: string | undefined;
  let port = 0;
  let certFile = '';
  /** Why the TLS server is not there (auto: the tests skip naming it; required: beforeAll fails). */
  let unavailable: string | undefined = 'not started';

  beforeAll(async () => {
    try {
      await start();
      unavailable = undefined;
    } catch (error) {
      unavailable = (error as Error).message;
      if (policy === 'required') throw new Error(`STREAMCHECK_E2E=required: ${unavailable}`);
    }
  }, START_TIMEOUT_MS + 10_000);

  const need = (ctx: TestContext): void => {
    if (unavailable !== undefined) ctx.skip(unavailable);
  };

  async function start(): Promise<void> {
    dir = await mkdtemp(join(tmpdir(), 'streamcheck-rediss-'));
    certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    const openssl = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    if (openssl.status !== 0) throw new Error(`openssl could not make a test certificate: ${openssl.error?.message ?? openssl.stderr}`);
    port = (await freeLoopbackPorts(1))[0]!;
    // TLS only (--port 0): a plain connection finds nothing to talk to.
    server = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--tls-cert-file', certFile, '--tls-key-file', keyFile, '--tls-ca-cert-file', certFile, '--tls-auth-clients', 'no', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    let exited: string | undefined;
    server.on('error', (error) => (exited = error.message));
    server.on('exit', (code, signal) => (exited ??= `exit ${code ?? signal}`));
    const deadlineMs = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadlineMs) {
      if (exited !== undefined) throw new Error(`redis-server with TLS failed to start: ${exited} (is it built with TLS?)`);
      const listening = await new Promise<boolean>((resolve) => {
        const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      });
      if (listening) return;
      await sleep(100);
    }
    throw new Error(`redis-server did not accept TLS on port ${port} within ${START_TIMEOUT_MS} ms`);
  }

  afterAll(async () => {
    // Only the server this file started, by its own handle.
    server?.kill('SIGTERM');
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('PING, SET and GET over TLS, directly and through the fault proxy; plain redis:// to the TLS port fails', async (ctx) => {
    need(ctx);
    const url = `rediss://127.0.0.1:${port}/0`;
    expect(checkRedisUrl(url, 'STREAMCHECK_REDIS_URL')).toBe(url);
    const child = spawn(process.execPath, ['--import', 'tsx', PROBE, url], { env: { ...process.env, NODE_EXTRA_CA_CERTS: certFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toEqual({ tlsPing: true, plainPingOnTlsPort: false, directValue: 'direct', proxiedValue: 'via proxy' });
  }, PROBE_TIMEOUT_MS);

  test('without trusting the certificate, rediss:// does not answer (verification is on)', async (ctx) => {
    need(ctx);
    const url = `rediss://127.0.0.1:${port}/0`;
    const script = `import { redisAnswersPing } from ${JSON.stringify(fileURLToPath(new URL('../../src/harness/e2e/services/local.ts', import.meta.url)))}; console.log(await redisAnswersPing(${JSON.stringify(url)}, 3000));`;
    const env = { ...process.env };
    delete env['NODE_EXTRA_CA_CERTS'];
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
    expect(child.status, child.stderr).toBe(0);
    expect(child.stdout.trim()).toBe('false');
  }, PROBE_TIMEOUT_MS);
});
