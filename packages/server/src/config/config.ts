/**
 * The server's configuration: one YAML file, validated at start with clear errors.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ShellguardError } from '@shellguard/protocol';

export class ServerConfigError extends ShellguardError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('config_invalid', message, details);
  }
}

export interface ListenConfig {
  host: string;
  port: number;
}

export interface ServerConfig {
  /** Where the database and the server's own TLS key live. */
  dataDir: string;
  /** The site CA folder (ca.crt, ca.key): trust anchor for devices, issuer of the server certificate. */
  caDir: string;
  mqtt: ListenConfig;
  api: ListenConfig;
  /** Names and addresses the server's TLS certificate is valid for. */
  tlsNames: { hostnames: string[]; ips: string[] };
  alarms?: {
    /** Signed webhooks notified of every annunciated alarm change. */
    webhooks: { id: string; url: string; secret: string }[];
  };
}

type Obj = Record<string, unknown>;

function fail(source: string, at: string, message: string): never {
  throw new ServerConfigError(`${source}: ${at}: ${message}`, { source, field: at });
}

function obj(source: string, at: string, v: unknown): Obj {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(source, at, 'must be a mapping');
  return v as Obj;
}

function listen(source: string, at: string, v: unknown, defaultPort: number): ListenConfig {
  const o = obj(source, at, v);
  for (const k of Object.keys(o)) if (k !== 'host' && k !== 'port') fail(source, `${at}.${k}`, 'unknown field (known: host, port)');
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') fail(source, `${at}.host`, 'must be an address to listen on, e.g. 127.0.0.1');
  const port = o.port ?? defaultPort;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) fail(source, `${at}.port`, 'must be a port number 0-65535');
  return { host, port };
}

function strings(source: string, at: string, v: unknown, fallback: string[]): string[] {
  if (v === undefined) return fallback;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && s !== '')) fail(source, at, 'must be a list of strings');
  return v as string[];
}

export function validateServerConfig(doc: unknown, source: string, baseDir: string): ServerConfig {
  const d = obj(source, '(root)', doc);
  const known = ['dataDir', 'caDir', 'mqtt', 'api', 'tls', 'alarms'];
  for (const k of Object.keys(d)) if (!known.includes(k)) fail(source, k, `unknown field (known: ${known.join(', ')})`);
  const dir = (at: string, v: unknown): string => {
    if (typeof v !== 'string' || v === '') fail(source, at, 'is required: a folder path');
    return path.resolve(baseDir, v);
  };
  const tls = obj(source, 'tls', d.tls);
  const alarms = obj(source, 'alarms', d.alarms);
  for (const k of Object.keys(alarms)) if (k !== 'webhooks') fail(source, `alarms.${k}`, 'unknown field (known: webhooks)');
  const webhooksRaw = alarms.webhooks ?? [];
  if (!Array.isArray(webhooksRaw)) fail(source, 'alarms.webhooks', 'must be a list of {id, url, secret}');
  const webhooks = webhooksRaw.map((w: unknown, i: number) => {
    const o = obj(source, `alarms.webhooks[${i}]`, w);
    const str = (k: string) => {
      const v = o[k];
      if (typeof v !== 'string' || v === '') fail(source, `alarms.webhooks[${i}].${k}`, 'is required');
      return v;
    };
    const url = str('url');
    if (!/^https?:\/\//.test(url)) fail(source, `alarms.webhooks[${i}].url`, 'must be an http(s) URL');
    const secret = str('secret');
    if (secret.length < 16) fail(source, `alarms.webhooks[${i}].secret`, 'must be at least 16 characters (it signs every notification)');
    return { id: str('id'), url, secret };
  });
  return {
    dataDir: dir('dataDir', d.dataDir),
    caDir: dir('caDir', d.caDir),
    mqtt: listen(source, 'mqtt', d.mqtt, 8883),
    api: listen(source, 'api', d.api, 8443),
    tlsNames: {
      hostnames: strings(source, 'tls.hostnames', tls.hostnames, ['localhost']),
      ips: strings(source, 'tls.ips', tls.ips, ['127.0.0.1']),
    },
    alarms: { webhooks },
  };
}

export function loadServerConfig(file: string): ServerConfig {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ServerConfigError(`cannot read server config ${file}: ${(err as Error).message}`, { source: file });
  }
  return validateServerConfig(doc, file, path.dirname(path.resolve(file)));
}
