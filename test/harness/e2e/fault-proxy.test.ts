import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { FaultProxy } from '../../../src/harness/e2e/fault-proxy.ts';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function echoServer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  return (server.address() as AddressInfo).port;
}

function roundTrip(port: number, message: string): Promise<{ reply: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(message));
    socket.once('data', (data) => resolve({ reply: data.toString(), socket }));
    socket.once('error', reject);
  });
}

test('the proxy forwards traffic, and cut() closes every open connection', async () => {
  const proxy = await FaultProxy.start('127.0.0.1', await echoServer());
  closers.push(() => proxy.close());
  const { reply, socket } = await roundTrip(proxy.port, 'ping');
  expect(reply).toBe('ping');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  proxy.cut();
  await closed;
  expect(proxy.cutConnections).toBe(1);
  // A new connection goes through again.
  expect((await roundTrip(proxy.port, 'again')).reply).toBe('again');
  expect(proxy.rewriteUrl('redis://localhost:6379/0')).toBe(`redis://127.0.0.1:${proxy.port}/0`);
});

test('stall(ms) holds traffic for at least that long', async () => {
  const proxy = await FaultProxy.start('127.0.0.1', await echoServer());
  closers.push(() => proxy.close());
  const { socket } = await roundTrip(proxy.port, 'warm');
  proxy.stall(150);
  const started = Date.now();
  const reply = await new Promise<string>((resolve) => {
    socket.once('data', (data) => resolve(data.toString()));
    socket.write('late');
  });
  expect(reply).toBe('late');
  expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  socket.destroy();
});
