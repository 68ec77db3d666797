import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedHook {
  idempotencyKey: string;
  attempt: number;
  timestamp: string;
  /** X-SafeGate-Signature as received. */
  signature: string;
  /** The HMAC matched one of the secrets the receiver knows. */
  signatureValid: boolean;
  body: string;
  json: Record<string, unknown>;
  /** What the receiver answered. */
  status: number;
}

/**
 * A webhook receiver for tests (node:http on 127.0.0.1): checks each request's
 * X-SafeGate-Signature (HMAC-SHA256 of "<timestamp>.<body>") against the secrets it is given,
 * records every request with its Idempotency-Key, and answers `status` (200; set 500 to refuse).
 * `stop()` closes it (connections refused); `start()` listens again on the same port.
 */
export class TestWebhookReceiver {
  private server: Server | undefined;
  port = 0;
  status = 200;
  /** Answer this long after the request (a receiver too slow to answer). */
  delayMs = 0;
  readonly requests: ReceivedHook[] = [];
  readonly secrets = new Set<string>();

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const timestamp = String(req.headers['x-safegate-timestamp'] ?? '');
        const given = Buffer.from(String(req.headers['x-safegate-signature'] ?? ''));
        const signatureValid = [...this.secrets].some((s) => {
          const want = Buffer.from(`sha256=${createHmac('sha256', s).update(`${timestamp}.${body}`).digest('hex')}`);
          return want.length === given.length && timingSafeEqual(want, given);
        });
        let json: Record<string, unknown> = {};
        try {
          json = JSON.parse(body) as Record<string, unknown>;
        } catch {
          // kept as an empty object; the test sees the body
        }
        const status = req.method === 'POST' && signatureValid ? this.status : 401;
        this.requests.push({ idempotencyKey: String(req.headers['idempotency-key'] ?? ''), attempt: Number(req.headers['x-safegate-attempt'] ?? 0), timestamp, signature: given.toString('utf8'), signatureValid, body, json, status });
        const answer = () => {
          if (!res.destroyed) res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
        };
        if (this.delayMs) setTimeout(answer, this.delayMs).unref();
        else answer();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Requests it accepted (2xx), one per idempotency key counted once. */
  acceptedKeys(): string[] {
    return [...new Set(this.requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.idempotencyKey))];
  }
}
