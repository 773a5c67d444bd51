/**
 * The `equipment:` entry of a guardian config that reads one simulated asset, with the
 * simulator's secrets written to files beside it (mode 0600), as an operator would provision
 * them: the config names the files, never the secrets.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SimulatedAsset } from './simulated-site.ts';

function secretFile(dir: string, name: string, value: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, name);
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return file;
}

/** A plain object for the guardian's YAML; secrets go to `secretsDir`. */
export function guardianEquipmentFor(a: SimulatedAsset, secretsDir: string): Record<string, unknown> {
  const base = { asset: a.id, name: a.name, area: a.area, profile: a.profile, host: a.host, port: a.port };
  switch (a.protocol) {
    case 'modbus': return { ...base, unitId: a.unitId };
    case 'bacnet': return { ...base, bacnet: { deviceInstance: a.access.bacnet!.deviceInstance } };
    case 'snmp': {
      const s = a.access.snmp!;
      return {
        ...base,
        snmp: {
          version: '3',
          user: {
            name: s.user.name, authProtocol: s.user.authProtocol, privProtocol: s.user.privProtocol,
            authKeyFile: secretFile(secretsDir, `${a.id}.snmp-auth`, s.user.authKey),
            privKeyFile: secretFile(secretsDir, `${a.id}.snmp-priv`, s.user.privKey),
          },
          ...(s.index === undefined ? {} : { index: s.index }),
        },
      };
    }
    case 'redfish': {
      const r = a.access.redfish!;
      return {
        ...base,
        redfish: {
          chassis: r.chassis, auth: 'session', username: r.username,
          passwordFile: secretFile(secretsDir, `${a.id}.redfish-password`, r.password),
          tls: { pinSha256: r.certificate.sha256 },
        },
      };
    }
  }
}
