/**
 * Real HTTPS for the API tests: a throwaway self-signed P-256 certificate for 127.0.0.1 (made by
 * openssl, as in tls.test.ts), plain requests, and a Server-Sent Events reader on node:https.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSigned {
  certPem: string;
  keyPem: string;
}

export function selfSignedCertificate(): SelfSigned {
  const dir = mkdtempSync(join(tmpdir(), 'sg-api-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    return { certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'key.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface HttpsResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request; `path` is sent exactly as given (no normalisation of `..` or escapes). */
export function httpsRequest(port: number, ca: string, path: string, options: RequestOptions & { body?: string } = {}): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const { body, ...rest } = options;
    const req = request({ host: '127.0.0.1', port, path, ca, ...rest }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export interface SseEvent {
  /** The event name; `comment` for a `: ...` line. */
  event: string;
  data: string;
}

/** Reads a text/event-stream as it arrives (WHATWG HTML §9.2.6, the parts the server uses). */
export class SseClient {
  readonly events: SseEvent[] = [];
  private buffer = '';
  private ended = false;
  private readonly waiters: { test: () => boolean; resolve: () => void }[] = [];

  private constructor(readonly status: number, readonly headers: IncomingHttpHeaders, private readonly res: IncomingMessage) {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.take(chunk));
    res.on('end', () => this.finish());
    res.on('close', () => this.finish());
    res.on('error', () => this.finish());
  }

  /** Opens a stream; resolves once the response headers are in (any status: read `status` and `body()`). */
  static open(port: number, ca: string, path: string, headers: Record<string, string>): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, ca, headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        resolve(new SseClient(res.statusCode!, res.headers, res));
      });
      req.on('error', reject);
      req.end();
    });
  }

  of(event: string): SseEvent[] {
    return this.events.filter((e) => e.event === event);
  }

  /** Resolves once `test` holds (checked after every event). */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ test, resolve }));
  }

  /** Resolves once at least `n` events named `event` arrived; returns them. */
  async count(event: string, n: number): Promise<SseEvent[]> {
    await this.until(() => this.of(event).length >= n);
    return this.of(event);
  }

  /** The whole body of a refused (non-stream) response. */
  async body(): Promise<string> {
    await this.until(() => this.ended);
    return this.buffer;
  }

  /** Stop reading: the socket fills and the server sees backpressure. */
  pause(): void {
    this.res.pause();
  }

  resume(): void {
    this.res.resume();
  }

  close(): void {
    this.res.destroy();
  }

  get closed(): boolean {
    return this.ended;
  }

  private take(chunk: string): void {
    this.buffer += chunk;
    if (this.status !== 200) return;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) !== -1) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.events.push({ event: 'comment', data: line.slice(1).trim() });
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length > 0) this.events.push({ event, data: data.join('\n') });
    }
    this.check();
  }

  private finish(): void {
    this.ended = true;
    this.check();
  }

  private check(): void {
    for (const w of [...this.waiters]) {
      if (w.test()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }
}
