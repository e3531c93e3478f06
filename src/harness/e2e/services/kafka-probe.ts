/**
 * Is there a Kafka broker at host:port? Checked by the protocol's own handshake, an
 * ApiVersions request (api key 18, version 0), rather than an open TCP port: anything can
 * accept a connection (a Redis, an HTTP server, a proxy with nothing behind it); only a broker
 * answers ApiVersions with our correlation id and error code 0.
 */
import { connect } from 'node:net';

const API_VERSIONS_KEY = 18;
const CORRELATION_ID = 0x5c0ffee;
const CLIENT_ID = 'streamcheck-probe';
/** An ApiVersions v0 answer lists ~60 APIs in well under 1 KiB; more than this is not Kafka. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/** The ApiVersions v0 request frame: size, api key, api version, correlation id, client id. */
export function apiVersionsRequest(): Buffer {
  const clientId = Buffer.from(CLIENT_ID, 'utf8');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  body.writeInt16BE(API_VERSIONS_KEY, 0);
  body.writeInt16BE(0, 2);
  body.writeInt32BE(CORRELATION_ID, 4);
  body.writeInt16BE(clientId.length, 8);
  clientId.copy(body, 10);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

/** What is wrong with a response frame (size prefix included), or undefined when it is a broker's good answer. */
export function apiVersionsResponseProblem(frame: Buffer): string | undefined {
  if (frame.length < 10) return `answered ${frame.length} bytes, not a Kafka ApiVersions response`;
  const size = frame.readInt32BE(0);
  if (size < 6 || size > MAX_RESPONSE_BYTES) return `answered a frame of ${size} bytes, not a Kafka ApiVersions response`;
  if (frame.readInt32BE(4) !== CORRELATION_ID) return 'answered with another correlation id: not a Kafka broker';
  const errorCode = frame.readInt16BE(8);
  if (errorCode !== 0) return `answered ApiVersions with error code ${errorCode}`;
  return undefined;
}

/** undefined when a Kafka broker answers ApiVersions at `hostPort` within the time; otherwise what went wrong. */
export function kafkaApiVersionsProblem(hostPort: string, timeoutMs: number): Promise<string | undefined> {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(hostPort);
  if (match === null) return Promise.resolve(`${hostPort} is not host:port`);
  const host = match[1]!.replace(/^\[|\]$/g, '');
  const port = Number(match[2]);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (problem: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => finish(`no ApiVersions answer from ${hostPort} within ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => socket.write(apiVersionsRequest()));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4) return;
      const size = received.readInt32BE(0);
      if (size < 6 || size > MAX_RESPONSE_BYTES) return finish(`${hostPort} ${apiVersionsResponseProblem(received)}`);
      if (received.length >= 4 + size) {
        const problem = apiVersionsResponseProblem(received.subarray(0, 4 + size));
        finish(problem === undefined ? undefined : `${hostPort} ${problem}`);
      }
    });
    socket.once('end', () => finish(`${hostPort} closed the connection without a Kafka ApiVersions answer`));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(`${hostPort}: ${error.code ?? error.message}`));
  });
}
