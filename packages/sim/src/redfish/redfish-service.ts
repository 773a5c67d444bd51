/**
 * A simulated server BMC on the wire: a Redfish service over HTTPS (DSP0266) serving a server
 * asset's values (bmc-resources.ts), with HTTP Basic and session authentication.
 *
 * Like a real BMC it accepts changes and actions (PATCH of the chassis, POST of Chassis.Reset)
 * and answers the rest as a BMC would (405, 400), but it counts every such write attempt:
 * Shellguard's guardian must never send one, and tests assert the count stays 0. Session login
 * (POST to the sessions collection) and logout (DELETE of one's own session) are not writes.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ListenError, listenErrorOf, type RedfishProfile } from '@shellguard/protocol';
import { SimError } from '../errors.ts';
import type { PointValues } from '../physics/types.ts';
import { bmcResources, valueAtPointer, type Resource } from './bmc-resources.ts';

export interface RedfishWriteAttempt {
  method: string;
  path: string;
  /** Wall-clock time it arrived (epoch ms). */
  at: number;
}

export interface RedfishRequestSeen {
  method: string;
  path: string;
  /** How the request authenticated: none, basic, session (a valid token), or refused. */
  auth: 'none' | 'basic' | 'session' | 'refused';
}

export interface RedfishServiceOptions {
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** When given, every point must resolve in the served tree (checked at start). */
  profile?: RedfishProfile;
  /** Current engineering values of the server asset, read on every request. */
  values: () => Readonly<PointValues>;
  onWrite?: (attempt: RedfishWriteAttempt) => void;
  /** Wall clock for write timestamps (default Date.now). */
  clock?: () => number;
  /** Accounts: user name -> password. */
  users: Record<string, string>;
  tls: { certPem: string; keyPem: string };
  /** The chassis id under /redfish/v1/Chassis/ (default 1). */
  chassisId?: string;
}

export interface RedfishService {
  host: string;
  port: number;
  writesReceived(): number;
  writes(): readonly RedfishWriteAttempt[];
  /** Every HTTP request that reached the service, in order (bounded). */
  requests(): readonly RedfishRequestSeen[];
  /** TCP connections accepted (whether or not a TLS handshake or request followed). */
  connectionsAccepted(): number;
  /** Sessions open now. */
  sessionsOpen(): number;
  /** Every session token handed out (a simulator's test hook: a client must never log one). */
  issuedTokens(): readonly string[];
  close(): Promise<void>;
}

const SESSIONS = '/redfish/v1/SessionService/Sessions';
const MAX_BODY = 64 * 1024;
const MAX_LOG = 10_000;
/** DSP0266 §13.3.1: the service root and the version document are readable without authentication. */
const PUBLIC_PATHS = new Set(['/redfish', '/redfish/v1']);

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** DSP0266 §9.6: the error response body. */
function errorBody(code: string, message: string): Resource {
  return { error: { code: `Base.1.15.${code}`, message, '@Message.ExtendedInfo': [{ MessageId: `Base.1.15.${code}`, Message: message, Severity: 'Critical' }] } };
}

function send(res: ServerResponse, status: number, body?: Resource, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'OData-Version': '4.0',
    ...(body === undefined ? {} : { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)) }),
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : text);
}

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

function jsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the service; resolves once it listens. */
export async function startRedfishService(options: RedfishServiceOptions): Promise<RedfishService> {
  const chassisId = options.chassisId ?? '1';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(chassisId)) throw new SimError('invalid_option', `chassisId ${JSON.stringify(chassisId)} must be letters, digits, _ . - (1-64)`, { chassisId });
  if (Object.keys(options.users).length === 0) throw new SimError('invalid_option', 'a Redfish service needs at least one user (users: { name: password })');
  const clock = options.clock ?? Date.now;
  const sessions = new Map<string, { id: string; user: string; token: string }>();
  const writeLog: RedfishWriteAttempt[] = [];
  const requestLog: RedfishRequestSeen[] = [];
  const tokens: string[] = [];
  let writes = 0;
  let connections = 0;
  let nextSession = 1;
  const chassisPath = `/redfish/v1/Chassis/${chassisId}`;

  if (options.profile) {
    const tree = bmcResources(chassisId, options.values(), []);
    for (const p of options.profile.points) {
      const path = (p.resource.startsWith('/redfish/v1/') ? p.resource : `${chassisPath}/${p.resource}`).replace(/\{chassis\}/g, chassisId);
      if (valueAtPointer(tree.get(path), p.pointer) === undefined) {
        throw new SimError('profile_missing', `profile ${options.profile.id}: point ${p.name} reads ${path}#${p.pointer}, which the simulated BMC does not serve`, { point: p.name, path });
      }
    }
  }

  const authenticate = (req: IncomingMessage): RedfishRequestSeen['auth'] => {
    const token = req.headers['x-auth-token'];
    if (typeof token === 'string') {
      for (const s of sessions.values()) if (sameSecret(s.token, token)) return 'session';
      return 'refused';
    }
    const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
    if (!m) return 'none';
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = decoded.slice(0, colon);
    const password = options.users[user];
    return colon > 0 && Object.hasOwn(options.users, user) && password !== undefined && sameSecret(password, decoded.slice(colon + 1)) ? 'basic' : 'refused';
  };

  const recordWrite = (method: string, path: string): void => {
    writes++;
    const attempt = { method, path, at: clock() };
    if (writeLog.length < MAX_LOG) writeLog.push(attempt);
    options.onWrite?.(attempt);
  };

  const unauthorized = (res: ServerResponse): void => send(res, 401, errorBody('NoValidSession', 'There is no valid session established with the implementation.'), { 'WWW-Authenticate': 'Basic realm="Redfish"' });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? '';
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'https://bmc.invalid').pathname.replace(/(.)\/+$/, '$1');
    } catch {
      send(res, 400, errorBody('MalformedJSON', 'The request URL is malformed.'));
      return;
    }
    const auth = authenticate(req);
    if (requestLog.length < MAX_LOG) requestLog.push({ method, path, auth });
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
    const authed = auth === 'basic' || auth === 'session';

    if (method === 'GET' || method === 'HEAD') {
      if (path === '/redfish') { send(res, 200, { v1: '/redfish/v1/' }); return; }
      if (!PUBLIC_PATHS.has(path) && !authed) { unauthorized(res); return; }
      const resource = bmcResources(chassisId, options.values(), [...sessions.values()]).get(path);
      if (resource) send(res, 200, resource);
      else send(res, 404, errorBody('ResourceNotFound', `The requested resource ${path} was not found.`));
      return;
    }
    // Session login (DSP0266 §13.3.4): not a write to the equipment.
    if (method === 'POST' && path === SESSIONS) {
      const login = jsonObject(body);
      if (!login || typeof login.UserName !== 'string' || typeof login.Password !== 'string') {
        send(res, 400, errorBody('PropertyMissing', 'The login needs UserName and Password.'));
        return;
      }
      const password = options.users[login.UserName];
      if (!Object.hasOwn(options.users, login.UserName) || password === undefined || !sameSecret(password, login.Password)) {
        send(res, 401, errorBody('NoValidSession', 'Invalid user name or password.'));
        return;
      }
      const id = String(nextSession++);
      const token = randomBytes(24).toString('base64url');
      sessions.set(id, { id, user: login.UserName, token });
      tokens.push(token);
      const uri = `${SESSIONS}/${id}`;
      send(res, 201, { '@odata.id': uri, '@odata.type': '#Session.v1_7_0.Session', Id: id, Name: 'User Session', UserName: login.UserName }, { 'X-Auth-Token': token, Location: uri });
      return;
    }
    // Logout of an existing session (§13.3.6): not a write to the equipment either.
    const sessionId = path.startsWith(`${SESSIONS}/`) ? path.slice(SESSIONS.length + 1) : undefined;
    if (method === 'DELETE' && sessionId !== undefined && sessions.has(sessionId) && authed) {
      sessions.delete(sessionId);
      send(res, 204);
      return;
    }
    // Everything else changes something, or tries to: counted, then answered as a BMC would.
    recordWrite(method, path);
    if (!authed) { unauthorized(res); return; }
    if (method === 'POST' && path === `${chassisPath}/Actions/Chassis.Reset`) {
      if (typeof jsonObject(body)?.ResetType !== 'string') send(res, 400, errorBody('ActionParameterMissing', 'The action Chassis.Reset requires the parameter ResetType.'));
      else send(res, 204);
      return;
    }
    if (method === 'PATCH' && path === chassisPath) {
      if (jsonObject(body) === undefined) send(res, 400, errorBody('MalformedJSON', 'The request body submitted was malformed JSON.'));
      else send(res, 204);
      return;
    }
    send(res, 405, errorBody('OperationNotAllowed', `The HTTP method ${method} is not allowed on ${path}.`), { Allow: 'GET, HEAD' });
  };

  const server = https.createServer({ cert: options.tls.certPem, key: options.tls.keyPem, minVersion: 'TLSv1.2', keepAliveTimeout: 5_000 }, (req, res) => {
    handle(req, res).catch(() => { if (!res.headersSent) send(res, 500, errorBody('InternalError', 'The request failed.')); });
  });
  server.on('connection', () => { connections++; });
  // A client that refuses the certificate (or talks no TLS) is the client's business.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenErrorOf(err, { what: 'the simulated Redfish BMC', host: options.host, port: options.port, setting: 'the port of the simulated BMC' })));
    server.listen(options.port, options.host, () => resolve());
  }).catch((err: unknown) => {
    if (err instanceof ListenError) throw err;
    throw new SimError('port_unavailable', `the simulated Redfish BMC could not listen on ${options.host}:${options.port}: ${(err as Error).message}`, { host: options.host, port: options.port });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  let closed: Promise<void> | undefined;

  return {
    host: options.host,
    port,
    writesReceived: () => writes,
    writes: () => writeLog,
    requests: () => requestLog,
    connectionsAccepted: () => connections,
    sessionsOpen: () => sessions.size,
    issuedTokens: () => tokens,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
