/**
 * A Mosquitto 2.0 configuration for Shellguard's external broker (tested with Debian's 2.0.11):
 * one mutual-TLS listener, the dynamic-security plugin, and the broker's log on $SYS topics.
 * Used by the tests and by scale-out scripts; Shellguard keeps `cafile` and `crlfile` current.
 *
 *   require_certificate + cafile + crlfile  every client presents a certificate from the site root, not revoked
 *   use_identity_as_username                its CN (a device id, or a Shellguard server name) is the username
 *   use_username_as_clientid                ...and the client id: a device can take over only its own session
 *   allow_anonymous false, ACL default deny rights only from the plugin, which Shellguard manages
 *   retain_available false                  nothing a device sends is kept for later subscribers
 *   max_packet_size                         a packet announcing more is refused from its header
 *   log_dest topic                          the log is how Shellguard sees sessions (broker-log.ts)
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_DEVICE_QUOTAS } from '../../config/config.ts';
import { writeFileAtomically } from './crl-writer.ts';
import { DEFAULT_SHARE_GROUP, SERVER_GROUP, SERVER_ROLE, SERVER_USERNAME_PATTERN, serverAcls } from './device-acls.ts';

/** Where Debian's mosquitto package puts the plugin. */
export const DEBIAN_DYNAMIC_SECURITY_PLUGIN = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';

export interface MosquittoConfigOptions {
  /** Folder for everything written here; the plugin rewrites its file in it, so mosquitto must be able to write there. */
  dir: string;
  host: string;
  port: number;
  /** Mosquitto's own TLS certificate (leaf then issuing CA) and key, from the site PKI. */
  serverCertificate: { chainPem: string; keyPem: string };
  /** Roots client certificates must chain to (the site root; several during a rotation). */
  trustAnchorPems: readonly string[];
  /** The first CRLs, one per issuing CA: mosquitto does not start without a readable crlfile. */
  crlPems: readonly string[];
  /** Shellguard's usernames on the broker: the CN of each replica's client certificate. */
  serverUsernames: readonly string[];
  shareGroup?: string;
  /** Default DEFAULT_DEVICE_QUOTAS.maxPacketBytes. */
  maxPacketBytes?: number;
  dynamicSecurityPlugin?: string;
  /** The account mosquitto drops to when started as root (default `mosquitto`). */
  user?: string;
  /** Also log to this file (the log always goes to stderr and to $SYS/broker/log). */
  logFile?: string;
}

export interface MosquittoFiles {
  configFile: string;
  dynamicSecurityFile: string;
  caFile: string;
  crlFile: string;
  certFile: string;
  keyFile: string;
  pidFile: string;
}

function pemFile(pems: readonly string[]): string {
  return pems.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
}

/** A configuration value runs to the end of its line. */
function configValue(what: string, value: string): string {
  if (/[\r\n]/.test(value) || value.trim() !== value || value === '') throw new TypeError(`${what} "${value}" cannot be written into mosquitto.conf`);
  return value;
}

/**
 * The plugin's starting state: every right denied by default (unsubscribing aside), and the server
 * group holding Shellguard's role. Device clients and roles are added by DeviceAccess.
 */
export function initialDynamicSecurityConfig(serverUsernames: readonly string[], shareGroup = DEFAULT_SHARE_GROUP): Record<string, unknown> {
  for (const username of serverUsernames) {
    if (!SERVER_USERNAME_PATTERN.test(username)) throw new TypeError(`"${username}" is not a Shellguard server username`);
  }
  return {
    defaultACLAccess: { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: true },
    clients: serverUsernames.map((username) => ({ username, textname: 'Shellguard server' })),
    groups: [{ groupname: SERVER_GROUP, roles: [{ rolename: SERVER_ROLE }], clients: serverUsernames.map((username) => ({ username })) }],
    roles: [{ rolename: SERVER_ROLE, textname: 'Shellguard server', acls: serverAcls(shareGroup) }],
  };
}

/**
 * Writes mosquitto.conf and the files it names into `dir`. The dynamic-security file is written
 * only when absent: after the first start it is the plugin's state (the devices' clients and roles).
 */
export function generateMosquittoConfig(options: MosquittoConfigOptions): MosquittoFiles {
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) throw new TypeError(`port ${options.port} is not 1-65535`);
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const files: MosquittoFiles = {
    configFile: path.join(options.dir, 'mosquitto.conf'),
    dynamicSecurityFile: path.join(options.dir, 'dynamic-security.json'),
    caFile: path.join(options.dir, 'site-roots.crt'),
    crlFile: path.join(options.dir, 'site.crl'),
    certFile: path.join(options.dir, 'broker.crt'),
    keyFile: path.join(options.dir, 'broker.key'),
    pidFile: path.join(options.dir, 'mosquitto.pid'),
  };
  writeFileAtomically(files.caFile, pemFile(options.trustAnchorPems));
  writeFileAtomically(files.crlFile, pemFile(options.crlPems));
  writeFileAtomically(files.certFile, options.serverCertificate.chainPem);
  writeFileSync(files.keyFile, options.serverCertificate.keyPem, { mode: 0o600 });
  if (!existsSync(files.dynamicSecurityFile)) {
    writeFileSync(files.dynamicSecurityFile, `${JSON.stringify(initialDynamicSecurityConfig(options.serverUsernames, options.shareGroup), null, 2)}\n`, { mode: 0o600 });
  }
  const lines = [
    '# Generated by Shellguard (generateMosquittoConfig). Shellguard rewrites cafile and crlfile and sends SIGHUP.',
    'per_listener_settings false',
    'allow_anonymous false',
    'persistence false',
    'retain_available false',
    `max_packet_size ${options.maxPacketBytes ?? DEFAULT_DEVICE_QUOTAS.maxPacketBytes}`,
    `user ${configValue('user', options.user ?? 'mosquitto')}`,
    `pid_file ${configValue('pid file', files.pidFile)}`,
    'log_dest stderr',
    'log_dest topic',
    ...(options.logFile ? [`log_dest file ${configValue('log file', options.logFile)}`] : []),
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'log_type subscribe',
    'connection_messages true',
    `plugin ${configValue('plugin', options.dynamicSecurityPlugin ?? DEBIAN_DYNAMIC_SECURITY_PLUGIN)}`,
    `plugin_opt_config_file ${configValue('dynamic-security file', files.dynamicSecurityFile)}`,
    '',
    `listener ${options.port} ${configValue('host', options.host)}`,
    'protocol mqtt',
    'tls_version tlsv1.3',
    `cafile ${configValue('cafile', files.caFile)}`,
    `certfile ${configValue('certfile', files.certFile)}`,
    `keyfile ${configValue('keyfile', files.keyFile)}`,
    `crlfile ${configValue('crlfile', files.crlFile)}`,
    'require_certificate true',
    'use_identity_as_username true',
    'use_username_as_clientid true',
    '',
  ];
  writeFileSync(files.configFile, lines.join('\n'), { mode: 0o600 });
  return files;
}
