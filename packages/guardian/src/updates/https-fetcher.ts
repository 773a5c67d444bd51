/**
 * `MetadataFetcher` over node:https: the site CA (PEM) to trust, an optional client certificate
 * for mutual TLS, and an idle timeout. Plain http: only when asked for (the conformance CLI runs
 * against the suite's local http server); the guardian always uses https.
 *
 * The byte limit is enforced on what arrives, not on Content-Length: a server that lies about
 * the length or never stops sending is cut off at `maxLength + 1` bytes (TUF §5.3.3 endless data).
 * Redirects are not followed (the repository's URLs are configured, not discovered).
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import http from 'node:http';
import https from 'node:https';
import { collectChunks, tooLarge, type MetadataFetcher } from './fetcher.ts';
import { TufError } from './tuf-error.ts';

export interface HttpsFetcherOptions {
  /** PEM of the CA(s) that sign the repository server's certificate. Without it, the system's CAs. */
  ca?: string;
  /** PEM client certificate and key for mutual TLS. */
  cert?: string;
  key?: string;
  /** Milliseconds without any byte (connecting or reading) before the request is abandoned. Default 30 s. */
  timeoutMs?: number;
  /** Allow http: URLs (conformance testing only). Default false. */
  allowHttp?: boolean;
  userAgent?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class HttpsFetcher implements MetadataFetcher {
  private readonly options: HttpsFetcherOptions;

  constructor(options: HttpsFetcherOptions = {}) {
    if ((options.cert === undefined) !== (options.key === undefined)) {
      throw new TufError('fetch_failed', 'mutual TLS needs both a client certificate and its key; give both or neither');
    }
    this.options = options;
  }

  fetch(url: string, maxLength: number): Promise<Uint8Array> {
    return collectChunks(this.fetchChunks(url, maxLength), url, maxLength);
  }

  async *fetchChunks(url: string, maxLength: number): AsyncIterable<Uint8Array> {
    const { req, res } = await this.open(url);
    try {
      const status = res.statusCode ?? 0;
      if (status === 404 || status === 403) {
        throw new TufError('not_found', `${url} is not on the repository (HTTP ${status})`, { url, status });
      }
      if (status !== 200) {
        throw new TufError('fetch_failed', `${url} answered HTTP ${status}; expected 200`, { url, status });
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxLength) throw tooLarge(url, maxLength);
      let received = 0;
      for await (const chunk of res as AsyncIterable<Buffer>) {
        received += chunk.length;
        if (received > maxLength) throw tooLarge(url, maxLength);
        yield chunk;
      }
    } catch (err) {
      throw asFetchError(err, url);
    } finally {
      // Whether done, refused or abandoned by the consumer: stop reading and free the socket.
      res.destroy();
      req.destroy();
    }
  }

  private timeoutMs(): number {
    return this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  private open(url: string): Promise<{ req: ClientRequest; res: IncomingMessage }> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return Promise.reject(new TufError('fetch_failed', `${url} is not a valid URL`, { url }));
    }
    const secure = parsed.protocol === 'https:';
    if (!secure && !(parsed.protocol === 'http:' && this.options.allowHttp === true)) {
      return Promise.reject(new TufError('fetch_failed', `${url}: only https: URLs are allowed for the repository`, { url }));
    }
    const headers = { 'user-agent': this.options.userAgent ?? 'shellguard-tuf-client', accept: '*/*' };
    return new Promise((resolve, reject) => {
      let response: IncomingMessage | undefined;
      const onResponse = (res: IncomingMessage): void => {
        response = res;
        resolve({ req, res });
      };
      const req = secure
        ? https.get(parsed, {
          headers, agent: false,
          ...(this.options.ca !== undefined ? { ca: this.options.ca } : {}),
          ...(this.options.cert !== undefined ? { cert: this.options.cert, key: this.options.key } : {}),
        }, onResponse)
        : http.get(parsed, { headers, agent: false }, onResponse);
      req.setTimeout(this.timeoutMs(), () => {
        const err = new TufError('fetch_failed', `${url}: nothing arrived for ${this.timeoutMs()} ms; the request was abandoned`, { url });
        response?.destroy(err);
        req.destroy(err);
      });
      req.on('error', (err) => reject(asFetchError(err, url)));
    });
  }
}

function asFetchError(err: unknown, url: string): TufError {
  if (err instanceof TufError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new TufError('fetch_failed', `fetching ${url} failed: ${reason}`, { url });
}
