/**
 * `mqtt.external` in server.yaml: use an external Mosquitto 2.0 instead of the embedded broker.
 *
 *   mqtt:
 *     external:
 *       url: mqtts://broker.site.example:8883   # where devices and Shellguard connect
 *       username: shellguard-server             # Shellguard's name there (its certificate CN), in the server group
 *       caFile: /etc/mosquitto/shellguard/site-roots.crt   # mosquitto's cafile: Shellguard writes it
 *       crlFile: /etc/mosquitto/shellguard/site.crl        # mosquitto's crlfile: Shellguard writes it
 *       pidFile: /run/mosquitto/mosquitto.pid    # optional: SIGHUP after each write (same host);
 *                                                # without it, reload mosquitto when the files change (systemd path unit)
 */
import path from 'node:path';
import { DEVICE_ID_PATTERN } from '@shellguard/protocol';
import { SERVER_USERNAME_PATTERN } from './device-acls.ts';

export interface ExternalBrokerConfig {
  url: string;
  username: string;
  caFile: string;
  crlFile: string;
  pidFile?: string;
}

export const EXTERNAL_BROKER_FIELDS = ['url', 'username', 'caFile', 'crlFile', 'pidFile'] as const;

/** `fail(field, problem)` reports a problem with `mqtt.external.<field>` and does not return. */
export function parseExternalBrokerConfig(
  o: Record<string, unknown>, baseDir: string, fail: (field: string, problem: string) => never,
): ExternalBrokerConfig {
  const url = o.url;
  let parsed: URL | undefined;
  try {
    parsed = typeof url === 'string' ? new URL(url) : undefined;
  } catch {
    parsed = undefined;
  }
  if (typeof url !== 'string' || parsed?.protocol !== 'mqtts:' || parsed.hostname === '' || parsed.port === '' || parsed.username !== '' || parsed.password !== '') {
    fail('url', 'is required: mqtts://host:port of the external broker (mutual TLS only; no credentials in the URL)');
  }
  const username = o.username ?? 'shellguard-server';
  if (typeof username !== 'string' || !SERVER_USERNAME_PATTERN.test(username) || DEVICE_ID_PATTERN.test(username)) {
    fail('username', 'must be 1-64 of A-Z a-z 0-9 . _ - starting with a letter (the CN of Shellguard\'s certificate for the broker)');
  }
  const file = (field: 'caFile' | 'crlFile' | 'pidFile', required: boolean): string | undefined => {
    const v = o[field];
    if (v === undefined && !required) return undefined;
    if (typeof v !== 'string' || v === '') fail(field, required ? 'is required: a file path the broker reads' : 'must be a file path');
    return path.resolve(baseDir, v);
  };
  const caFile = file('caFile', true)!;
  const crlFile = file('crlFile', true)!;
  const pidFile = file('pidFile', false);
  return { url, username, caFile, crlFile, ...(pidFile ? { pidFile } : {}) };
}
