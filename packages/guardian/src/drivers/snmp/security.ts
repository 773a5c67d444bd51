/**
 * SNMP credentials from the config's secret files, mapped to net-snmp's user and community
 * shapes. Only v2c communities and v3 authPriv users exist here (noAuthNoPriv and authNoPriv are
 * refused by construction: there is no way to build such a user). Secrets are read once, kept in
 * memory, and never put into a log line or an error message (only the file name is).
 */
import { readFileSync } from 'node:fs';
import snmp from 'net-snmp';
import type { SnmpAuthProtocol, SnmpEquipmentOptions, SnmpPrivProtocol } from '../../config/config.ts';
import { SnmpError } from './errors.ts';

export type SnmpUserConfig = NonNullable<SnmpEquipmentOptions['user']>;

/** RFC 7860 HMAC-SHA-2 authentication protocols (usmHMAC128SHA224AuthProtocol ... usmHMAC384SHA512AuthProtocol). */
const AUTH: Record<SnmpAuthProtocol, snmp.AuthProtocols> = {
  sha224: snmp.AuthProtocols.sha224,
  sha256: snmp.AuthProtocols.sha256,
  sha384: snmp.AuthProtocols.sha384,
  sha512: snmp.AuthProtocols.sha512,
};

/**
 * aes128: RFC 3826 usmAesCfb128Protocol. aes256: AES-256-CFB with the key extended as in
 * draft-blumenthal-aes-usm-04 (net-snmp's `aes256b`), which is what Net-SNMP's snmpd and its CLI
 * call `AES-256`. Cisco's "AES-256" uses the Reeder extension instead (Net-SNMP's `AES-256-C`);
 * that one is not offered, so a mismatch fails authentication loudly rather than half-working.
 */
const PRIV: Record<SnmpPrivProtocol, snmp.PrivProtocols> = {
  aes128: snmp.PrivProtocols.aes,
  aes256: snmp.PrivProtocols.aes256b,
};

/** The secret in a file: its first line, without the newline editors add. */
export function readSecretFile(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SnmpError('snmp_config_invalid', `cannot read the ${what} file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}); check the path and that the guardian may read it`, { file });
  }
  const secret = text.split(/\r?\n/)[0] ?? '';
  if (secret.length === 0) throw new SnmpError('snmp_config_invalid', `the ${what} file ${file} is empty; put the secret on its first line`, { file });
  return secret;
}

/** A v3 USM user at authPriv, its keys read from their files. */
export function usmUser(user: SnmpUserConfig): snmp.User {
  const authKey = readSecretFile(user.authKeyFile, `authentication key of SNMP user ${user.name}`);
  const privKey = readSecretFile(user.privKeyFile, `privacy key of SNMP user ${user.name}`);
  // RFC 3414 §11.2: a pass phrase shorter than 8 characters is refused by compliant agents.
  if (authKey.length < 8 || privKey.length < 8) {
    throw new SnmpError('snmp_config_invalid', `SNMP user ${user.name}: the authentication and privacy pass phrases must each be at least 8 characters (RFC 3414 §11.2)`, { user: user.name });
  }
  return {
    name: user.name,
    level: snmp.SecurityLevel.authPriv,
    authProtocol: AUTH[user.authProtocol],
    authKey,
    privProtocol: PRIV[user.privProtocol],
    privKey,
  };
}
