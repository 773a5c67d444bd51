/**
 * The one way Redfish bytes leave the guardian: HTTPS over node:https/tls, for `RedfishRequest`s
 * only (request.ts), re-checked here before a socket is asked for.
 *
 * Trust in the BMC is settled before the first request byte: the agent hands a socket to the
 * request only after 'secureConnect', and only when the certificate is the pinned one (SHA-256 of
 * the leaf certificate's DER, as `openssl x509 -outform DER | sha256sum` prints it) or chains to
 * the configured CA with a matching name. Nothing else turns verification off.
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import { isIP } from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { RedfishError } from './errors.ts';
import { checkBuiltRequest, type RedfishRequest } from './request.ts';

/** A Redfish resource is a few kB; a whole Thermal of a big chassis well under 1 MiB. */
export const DEFAULT_MAX_RESPONSE_BYTES = 1 << 20;

export interface TlsTrust {
  /** CA certificate(s), PEM: the chain and the host name (or `servername`) are verified. */
  ca?: string | Buffer;
  /** SHA-256 of the BMC's leaf certificate (DER), 64 hex digits: that certificate only. */
  pinSha256?: string;
  /** The name the certificate must carry, when it is not the host (an IP address, usually). */
  servername?: string;
}

export interface TransportOptions {
  host: string;
  port: number;
  /** Whole request, from asking for a socket to the last body byte. */
  timeoutMs: number;
  tls: TlsTrust;
  maxResponseBytes?: number;
  /**
   * Sockets to the BMC at once (default 4); BMCs serve few connections. At most 2 are kept alive
   * between requests. The driver sends at most 2 requests at once, so none waits in the agent's
   * queue (where a socket that fails to connect can leave a request hanging until its timeout).
   */
  maxSockets?: number;
  /**
   * TLS key log lines (NSS key log format) of every connection, for a packet capture to be
   * decrypted in tests and diagnostics. Absent in the guardian.
   */
  onTlsKeylog?: (line: Buffer) => void;
}

/** Credentials the transport puts in the fixed header set. */
export type Credentials = { basic: string } | { token: string } | undefined;

export interface RedfishResponse {
  status: number;
  contentType: string;
  /** Location header (login answers). */
  location?: string;
  /** X-Auth-Token header (login answers). */
  authToken?: string;
  body: Buffer;
}

const TLS_ERROR = /CERT|SIGNATURE|ISSUER|ALTNAME|SELF_SIGNED|UNABLE_TO_GET|HOSTNAME|ERR_SSL|ERR_TLS/;

function sha256Hex(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex');
}

/** An agent whose sockets are trusted before they are handed over (DSP0266 §8.2 requires TLS). */
class TrustingAgent extends https.Agent {
  readonly #trust: TlsTrust;
  readonly #onKeylog: ((line: Buffer) => void) | undefined;
  constructor(trust: TlsTrust, maxSockets: number, onKeylog?: (line: Buffer) => void) {
    super({ keepAlive: true, maxSockets, maxFreeSockets: 2, scheduling: 'lifo' });
    this.#trust = trust;
    this.#onKeylog = onKeylog;
  }

  override createConnection(options: https.RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const host = String(options.host ?? options.hostname);
    const port = Number(options.port);
    const pin = this.#trust.pinSha256;
    const servername = this.#trust.servername ?? (isIP(host) ? undefined : host);
    const socket = tls.connect({
      host, port, minVersion: 'TLSv1.2', ALPNProtocols: ['http/1.1'],
      ...(servername ? { servername } : {}),
      // Pinned: the pin below replaces the chain (a BMC's certificate is usually self-signed).
      // Otherwise the chain and the name are verified against the configured CA, and only it.
      ...(pin ? { rejectUnauthorized: false } : { rejectUnauthorized: true, ca: this.#trust.ca }),
    });
    if (this.#onKeylog) socket.on('keylog', this.#onKeylog);
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      if (err) socket.destroy();
      callback?.(err, socket);
    };
    // Stays attached: an error between the hand-over and the request's own listener (or after a
    // refusal) must reach the request, never the process as an uncaught exception.
    socket.on('error', (err) => finish(err));
    socket.once('secureConnect', () => {
      if (pin) {
        const der = socket.getPeerCertificate().raw as Buffer | undefined;
        const got = der ? sha256Hex(der) : '(no certificate)';
        if (got !== pin) {
          finish(new RedfishError('redfish_tls_refused',
            `the certificate of ${host}:${port} is not the pinned one (SHA-256 ${got}, pinned ${pin}); nothing was sent. If the BMC's certificate was replaced on purpose, update redfish.tls.pinSha256`,
            { host, port, got, pinned: pin }));
          return;
        }
      }
      finish(null);
    });
    return undefined;
  }
}

export class HttpsTransport {
  readonly #options: TransportOptions;
  readonly #agent: TrustingAgent;
  readonly #maxBytes: number;
  #closed = false;

  constructor(options: TransportOptions) {
    const pin = options.tls.pinSha256;
    if ((options.tls.ca === undefined) === (pin === undefined)) {
      throw new RedfishError('redfish_config_invalid', 'give exactly one of a CA (redfish.tls.caFile) or a certificate pin (redfish.tls.pinSha256)');
    }
    if (pin !== undefined && !/^[0-9a-f]{64}$/.test(pin)) {
      throw new RedfishError('redfish_config_invalid', 'redfish.tls.pinSha256 must be 64 lower-case hex digits (the SHA-256 of the certificate DER)');
    }
    this.#options = options;
    this.#maxBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#agent = new TrustingAgent(options.tls, options.maxSockets ?? 4, options.onTlsKeylog);
  }

  /**
   * Sends one request and collects its response. The request is re-checked against the
   * allow-list (with the current session URI) before a socket is asked for.
   */
  send(request: RedfishRequest, credentials: Credentials, sessionUri: string | undefined): Promise<RedfishResponse> {
    if (this.#closed) return Promise.reject(new RedfishError('redfish_client_closed', 'the Redfish client is closed'));
    let req: RedfishRequest;
    try {
      req = checkBuiltRequest(request, sessionUri);
    } catch (err) {
      return Promise.reject(err);
    }
    const { host, port, timeoutMs } = this.#options;
    const where = `${req.method} ${req.path}`;
    const headers: Record<string, string> = { Accept: 'application/json', 'OData-Version': '4.0', 'User-Agent': 'shellguard-guardian' };
    if (credentials && 'basic' in credentials) headers.Authorization = `Basic ${credentials.basic}`;
    if (credentials && 'token' in credentials) headers['X-Auth-Token'] = credentials.token;
    if (req.body) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(req.body.length);
    }
    return new Promise<RedfishResponse>((resolve, reject) => {
      let settled = false;
      const fail = (err: unknown, reused: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(this.#errorOf(err, where, reused));
      };
      let http: ReturnType<typeof https.request>;
      try {
        http = https.request({ host, port, method: req.method, path: req.path, headers, agent: this.#agent });
      } catch (err) {
        // e.g. a token with characters a header cannot hold; the message names no header value.
        reject(new RedfishError('redfish_auth_failed', `${where}: the credentials cannot be sent in a header (${(err as NodeJS.ErrnoException).code ?? 'invalid'})`));
        return;
      }
      // Our own verdicts settle the promise first, then the request is torn down.
      const abort = (err: RedfishError): void => {
        fail(err, false);
        http.destroy();
      };
      const timer = setTimeout(() => {
        abort(new RedfishError('redfish_timeout', `${where}: no complete answer from ${host}:${port} within ${timeoutMs} ms; is the BMC overloaded or unreachable?`, { host, port, timeoutMs }));
      }, timeoutMs);
      http.on('error', (err) => fail(err, http.reusedSocket));
      http.once('response', (res) => {
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > this.#maxBytes) {
          abort(this.#tooLarge(where, declared));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.#maxBytes) {
            abort(this.#tooLarge(where, size));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => fail(err, false));
        res.once('aborted', () => fail(new RedfishError('redfish_connection_failed', `${where}: the BMC closed the connection mid-response`), false));
        res.once('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          const token = res.headers['x-auth-token'];
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type'] ?? ''),
            ...(typeof res.headers.location === 'string' ? { location: res.headers.location } : {}),
            ...(typeof token === 'string' ? { authToken: token } : {}),
            body: Buffer.concat(chunks),
          });
        });
      });
      http.end(req.body);
    });
  }

  #tooLarge(where: string, size: number): RedfishError {
    return new RedfishError('redfish_response_too_large', `${where}: the response is larger than ${this.#maxBytes} bytes (${size}); this is not a Redfish resource the driver reads`, { size, max: this.#maxBytes });
  }

  #errorOf(err: unknown, where: string, reused: boolean): RedfishError {
    if (err instanceof RedfishError) return err;
    const { host, port } = this.#options;
    const e = err as NodeJS.ErrnoException;
    const code = e?.code ?? '';
    if (TLS_ERROR.test(code)) {
      return new RedfishError('redfish_tls_refused',
        `${where}: the certificate of ${host}:${port} is not trusted (${code}); nothing was sent. Check redfish.tls.caFile (the CA that issued the BMC's certificate) and servername`,
        { host, port, tlsError: code });
    }
    return new RedfishError('redfish_connection_failed', `${where}: connection to ${host}:${port} failed (${code || e?.message || String(err)}); is the BMC up and the port right?`,
      { host, port, errno: code, reusedSocket: reused });
  }

  /** Closes every socket; later sends are refused. */
  close(): void {
    this.#closed = true;
    this.#agent.destroy();
  }
}
