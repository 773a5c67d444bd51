/**
 * The guardian's configuration: one YAML file, every field validated at start. A mistake gives
 * one clear message naming the file, the field and what to write instead.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ShellguardError, isValidId } from '@shellguard/protocol';

export class ConfigError extends ShellguardError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('config_invalid', message, details);
  }
}

export interface EquipmentConfig {
  /** Asset id, e.g. AHU-01 (Sparkplug device id). */
  asset: string;
  name: string;
  area: string;
  profile: string;
  host: string;
  port: number;
  unitId: number;
  pollIntervalMs: number;
  /** Fast path for safety points (door contacts, breakers); 0 disables it. */
  fastPollIntervalMs: number;
  timeoutMs: number;
  /** BACnet/IP connection settings: for an asset whose profile is a bacnet one. */
  bacnet?: BacnetEquipmentOptions;
  /** SNMP connection settings: for an asset whose profile is an snmp one. */
  snmp?: SnmpEquipmentOptions;
  /** Redfish connection settings: for an asset whose profile is a redfish one. */
  redfish?: RedfishEquipmentOptions;
}

/** Default port per protocol when an equipment entry gives none. */
export const DEFAULT_PORTS = { modbus: 502, bacnet: 47808, snmp: 161, redfish: 443 } as const;

export interface BacnetEquipmentOptions {
  /** The device object's instance number (what Who-Is/I-Am report), 0-4194302. */
  deviceInstance: number;
  /** For a device behind a BACnet router: its network number (DNET) and MAC address (DADR, hex). */
  route?: { network: number; address: string };
  /** Register as a foreign device with this BBMD (routed IP networks), renewed before `ttlSeconds` ends. */
  foreignDevice?: { host: string; port: number; ttlSeconds: number };
  /** Lifetime asked for COV subscriptions, renewed at half of it (s). Default 300. */
  covLifetimeSeconds: number;
}

export type SnmpAuthProtocol = 'sha224' | 'sha256' | 'sha384' | 'sha512';
export type SnmpPrivProtocol = 'aes128' | 'aes256';

export interface SnmpEquipmentOptions {
  version: '2c' | '3';
  /** v2c: the read community, read from this file (never written in the config itself). */
  communityFile?: string;
  /** v3: the USM user, always authPriv (SHA-2 authentication, AES privacy). */
  user?: { name: string; authProtocol: SnmpAuthProtocol; authKeyFile: string; privProtocol: SnmpPrivProtocol; privKeyFile: string };
  /** Replaces `{index}` in the profile's OIDs (the table row: an interface, an outlet). */
  index?: string;
  /** GETBULK max-repetitions when walking (default 20). */
  maxRepetitions: number;
  /** Retries of a request that timed out (default 1). */
  retries: number;
}

export interface RedfishEquipmentOptions {
  /** The chassis id under /redfish/v1/Chassis/ (default 1). */
  chassis: string;
  /** basic: HTTP Basic on every GET; session: one Redfish session (X-Auth-Token), deleted at close. */
  auth: 'basic' | 'session';
  username: string;
  /** The password, read from this file. */
  passwordFile: string;
  /** How the BMC's certificate is trusted: a CA file it chains to, or the SHA-256 of its certificate (hex). */
  tls: { caFile?: string; pinSha256?: string; servername?: string };
}

export interface SnmpTrapListenerConfig {
  host: string;
  port: number;
  /** v2c traps: accepted only with this community (file). */
  communityFile?: string;
  /** v3 traps and informs: accepted only from these USM users (authPriv). */
  users: NonNullable<SnmpEquipmentOptions['user']>[];
}

export interface GuardianConfig {
  site: string;
  dataDir: string;
  server: {
    /** mqtts://host:port of the broker */
    mqttUrl: string;
    /** https://host:port of the server's API, where the guardian attests to get its operational certificate. */
    apiUrl: string;
    /** The site's root CA certificate: the only anchor trusted for the broker and the certificates it issues. */
    caFile: string;
    /**
     * CA certificate(s) (PEM) the API's certificate chains to, when the server presents an
     * operator's certificate there (its api.certFile, e.g. from an enterprise CA) rather than one
     * from the site CA. Default: caFile. Used for the attestation requests only.
     */
    apiCaFile?: string;
  };
  /** Extra profile folder besides the built-in profiles. */
  profilesDir?: string;
  /** Where SNMP traps and informs are received (one listener for every SNMP asset). Absent: none. */
  snmpTraps?: SnmpTrapListenerConfig;
  /**
   * Panels this guardian is the panel controller of (issue 10): each one's signal tower, the only
   * output the guardian has. The panel must be one of `equipment` with a door contact.
   */
  panels?: PanelConfig[];
  queue: { maxBatches: number };
  equipment: EquipmentConfig[];
  /**
   * Signed updates (issue 11): where the A/B slots are installed and where the image
   * repositories' initial trusted roots were put at install time. Absent: this guardian is not
   * updated over the air (a development run from source).
   */
  updates?: UpdatesConfig;
}

export interface UpdatesConfig {
  /** Holds slots/app-a, app-b, platform-a, platform-b (deploy/guardian/install.sh). */
  installDir: string;
  /** `<product>.<stream>.root.json` for each image repository, shipped out of band (TUF §5.1). */
  trustedRootsDir: string;
  /** The product whose releases this guardian runs. */
  product: string;
}

type Obj = Record<string, unknown>;

export class ConfigReader {
  constructor(private readonly source: string, private readonly baseDir: string) {}

  oneOf<T extends string>(at: string, v: unknown, allowed: readonly T[], fallback?: T): T {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(at, `must be one of ${allowed.join(', ')}`);
    return v as T;
  }

  fail(at: string, message: string): never {
    throw new ConfigError(`${this.source}: ${at}: ${message}`, { source: this.source, field: at });
  }

  obj(at: string, v: unknown): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(at, 'must be a mapping (key: value)');
    return v as Obj;
  }

  str(at: string, v: unknown, fallback?: string): string {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string' || v.trim() === '') this.fail(at, 'is required and must be a non-empty string');
    return v;
  }

  id(at: string, v: unknown): string {
    const s = this.str(at, v);
    if (!isValidId(s)) this.fail(at, `"${s}" may use only letters, digits and . _ : - (at most 128)`);
    return s;
  }

  int(at: string, v: unknown, min: number, max: number, fallback?: number): number {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(at, `must be a whole number from ${min} to ${max}`);
    return v;
  }

  file(at: string, v: unknown): string {
    return path.resolve(this.baseDir, this.str(at, v));
  }

  noUnknown(at: string, o: Obj, known: string[]): void {
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) this.fail(at === '' ? k : `${at}.${k}`, `unknown field (known: ${known.join(', ')})`);
    }
  }
}

export interface PanelConfig {
  /** The panel's asset id (an `equipment` entry). */
  asset: string;
  /** Its signal tower (Patlite PNS over TCP): the only address the guardian ever sends to. */
  tower: { host: string; port: number };
  /** How often its door contact and breakers are read (the equipment's fast poll), ms. */
  doorPollMs: number;
}

/** Door contact and breakers of a panel controller: read this often by default (ms). */
export const DEFAULT_DOOR_POLL_MS = 25;

/** Validates a parsed config document. Relative paths are resolved against `baseDir`. */
export function validateGuardianConfig(doc: unknown, source: string, baseDir: string): GuardianConfig {
  const r = new ConfigReader(source, baseDir);
  const d = r.obj('(root)', doc);
  r.noUnknown('', d, ['site', 'dataDir', 'server', 'profilesDir', 'snmpTraps', 'queue', 'equipment', 'panels', 'updates']);
  const server = r.obj('server', d.server);
  r.noUnknown('server', server, ['mqttUrl', 'apiUrl', 'caFile', 'apiCaFile']);
  const mqttUrl = r.str('server.mqttUrl', server.mqttUrl);
  if (!/^mqtts:\/\/[^/]+:\d+$/.test(mqttUrl)) r.fail('server.mqttUrl', 'must be mqtts://host:port (plain mqtt:// is not allowed: the uplink is always TLS)');
  const apiUrl = r.str('server.apiUrl', server.apiUrl);
  if (!/^https:\/\/[^/]+:\d+$/.test(apiUrl)) r.fail('server.apiUrl', 'must be https://host:port (attestation is never sent in the clear)');
  const queue = d.queue === undefined ? {} : r.obj('queue', d.queue);
  r.noUnknown('queue', queue, ['maxBatches']);
  if (!Array.isArray(d.equipment) || d.equipment.length === 0) r.fail('equipment', 'must list at least one piece of equipment');
  const seen = new Set<string>();
  const equipment = (d.equipment as unknown[]).map((raw, i): EquipmentConfig => {
    const at = `equipment[${i}]`;
    const e = r.obj(at, raw);
    r.noUnknown(at, e, ['asset', 'name', 'area', 'profile', 'host', 'port', 'unitId', 'pollIntervalMs', 'fastPollIntervalMs', 'timeoutMs', 'bacnet', 'snmp', 'redfish']);
    const asset = r.id(`${at}.asset`, e.asset);
    if (seen.has(asset)) r.fail(`${at}.asset`, `asset ${asset} is listed twice`);
    seen.add(asset);
    const sections = (['bacnet', 'snmp', 'redfish'] as const).filter((k) => e[k] !== undefined);
    if (sections.length > 1) r.fail(at, `has ${sections.join(' and ')} sections; an asset is read over one protocol`);
    const protocol = sections[0] ?? 'modbus';
    return {
      ...(e.bacnet === undefined ? {} : { bacnet: readBacnet(r, `${at}.bacnet`, e.bacnet) }),
      ...(e.snmp === undefined ? {} : { snmp: readSnmp(r, `${at}.snmp`, e.snmp) }),
      ...(e.redfish === undefined ? {} : { redfish: readRedfish(r, `${at}.redfish`, e.redfish) }),
      asset,
      name: r.str(`${at}.name`, e.name, asset),
      area: r.id(`${at}.area`, e.area ?? 'unassigned'),
      profile: r.id(`${at}.profile`, e.profile),
      host: r.str(`${at}.host`, e.host),
      port: r.int(`${at}.port`, e.port, 1, 65535, DEFAULT_PORTS[protocol]),
      unitId: r.int(`${at}.unitId`, e.unitId, 0, 255, 1),
      pollIntervalMs: r.int(`${at}.pollIntervalMs`, e.pollIntervalMs, 100, 3_600_000, 1000),
      fastPollIntervalMs: r.int(`${at}.fastPollIntervalMs`, e.fastPollIntervalMs, 0, 60_000, 250),
      timeoutMs: r.int(`${at}.timeoutMs`, e.timeoutMs, 50, 60_000, 1000),
    };
  });
  const config: GuardianConfig = {
    site: r.id('site', d.site),
    dataDir: r.file('dataDir', d.dataDir),
    server: { mqttUrl, apiUrl, caFile: r.file('server.caFile', server.caFile) },
    queue: { maxBatches: r.int('queue.maxBatches', queue.maxBatches, 100, 100_000_000, 5_000_000) },
    equipment,
  };
  if (d.profilesDir !== undefined) config.profilesDir = r.file('profilesDir', d.profilesDir);
  if (d.snmpTraps !== undefined) {
    const t = r.obj('snmpTraps', d.snmpTraps);
    r.noUnknown('snmpTraps', t, ['host', 'port', 'communityFile', 'users']);
    if (t.users !== undefined && !Array.isArray(t.users)) r.fail('snmpTraps.users', 'must be a list of SNMPv3 users');
    const users = ((t.users ?? []) as unknown[]).map((u, i) => readSnmpUser(r, `snmpTraps.users[${i}]`, u));
    if (t.communityFile === undefined && users.length === 0) r.fail('snmpTraps', 'accepts nothing: give communityFile (v2c traps) or users (v3 traps and informs)');
    config.snmpTraps = {
      host: r.str('snmpTraps.host', t.host, '0.0.0.0'),
      port: r.int('snmpTraps.port', t.port, 1, 65535, 162),
      ...(t.communityFile === undefined ? {} : { communityFile: r.file('snmpTraps.communityFile', t.communityFile) }),
      users,
    };
  }
  if (d.panels !== undefined) {
    if (!Array.isArray(d.panels)) r.fail('panels', 'must be a list of { asset, tower: { host, port } }');
    const panelSeen = new Set<string>();
    config.panels = (d.panels as unknown[]).map((raw, i): PanelConfig => {
      const at = `panels[${i}]`;
      const p = r.obj(at, raw);
      r.noUnknown(at, p, ['asset', 'tower', 'doorPollMs']);
      const asset = r.id(`${at}.asset`, p.asset);
      const e = equipment.find((x) => x.asset === asset);
      if (e === undefined) return r.fail(`${at}.asset`, `${asset} is not in equipment: a panel controller reads its panel like any equipment (add it there)`);
      if (panelSeen.has(asset)) r.fail(`${at}.asset`, `panel ${asset} is listed twice`);
      panelSeen.add(asset);
      const tower = r.obj(`${at}.tower`, p.tower);
      r.noUnknown(`${at}.tower`, tower, ['host', 'port']);
      const doorPollMs = r.int(`${at}.doorPollMs`, p.doorPollMs, 10, 1_000, DEFAULT_DOOR_POLL_MS);
      // The door and breakers are the equipment's fast path: read at the panel's pace.
      e.fastPollIntervalMs = doorPollMs;
      return { asset, tower: { host: r.str(`${at}.tower.host`, tower.host), port: r.int(`${at}.tower.port`, tower.port, 1, 65535) }, doorPollMs };
    });
  }
  if (server.apiCaFile !== undefined) config.server.apiCaFile = r.file('server.apiCaFile', server.apiCaFile);
  if (d.updates !== undefined) {
    const u = r.obj('updates', d.updates);
    r.noUnknown('updates', u, ['installDir', 'trustedRootsDir', 'product']);
    config.updates = {
      installDir: r.file('updates.installDir', u.installDir),
      trustedRootsDir: r.file('updates.trustedRootsDir', u.trustedRootsDir),
      product: r.id('updates.product', u.product ?? 'shellguard-guardian'),
    };
  }
  return config;
}

function readBacnet(r: ConfigReader, at: string, raw: unknown): BacnetEquipmentOptions {
  const b = r.obj(at, raw);
  r.noUnknown(at, b, ['deviceInstance', 'route', 'foreignDevice', 'covLifetimeSeconds']);
  const out: BacnetEquipmentOptions = {
    deviceInstance: r.int(`${at}.deviceInstance`, b.deviceInstance, 0, 4_194_302),
    covLifetimeSeconds: r.int(`${at}.covLifetimeSeconds`, b.covLifetimeSeconds, 60, 86_400, 300),
  };
  if (b.route !== undefined) {
    const route = r.obj(`${at}.route`, b.route);
    r.noUnknown(`${at}.route`, route, ['network', 'address']);
    const address = r.str(`${at}.route.address`, route.address);
    if (!/^(?:[0-9a-fA-F]{2}){1,7}$/.test(address)) r.fail(`${at}.route.address`, 'must be the device MAC address on its network as hex bytes, e.g. 0a or c0a8010abac0');
    out.route = { network: r.int(`${at}.route.network`, route.network, 1, 65534), address: address.toLowerCase() };
  }
  if (b.foreignDevice !== undefined) {
    const f = r.obj(`${at}.foreignDevice`, b.foreignDevice);
    r.noUnknown(`${at}.foreignDevice`, f, ['host', 'port', 'ttlSeconds']);
    out.foreignDevice = { host: r.str(`${at}.foreignDevice.host`, f.host), port: r.int(`${at}.foreignDevice.port`, f.port, 1, 65535, 47808), ttlSeconds: r.int(`${at}.foreignDevice.ttlSeconds`, f.ttlSeconds, 30, 65535, 300) };
  }
  return out;
}

function readSnmpUser(r: ConfigReader, at: string, raw: unknown): NonNullable<SnmpEquipmentOptions['user']> {
  const u = r.obj(at, raw);
  r.noUnknown(at, u, ['name', 'authProtocol', 'authKeyFile', 'privProtocol', 'privKeyFile']);
  return {
    name: r.str(`${at}.name`, u.name),
    authProtocol: r.oneOf(`${at}.authProtocol`, u.authProtocol, ['sha224', 'sha256', 'sha384', 'sha512'] as const, 'sha256'),
    authKeyFile: r.file(`${at}.authKeyFile`, u.authKeyFile),
    privProtocol: r.oneOf(`${at}.privProtocol`, u.privProtocol, ['aes128', 'aes256'] as const, 'aes128'),
    privKeyFile: r.file(`${at}.privKeyFile`, u.privKeyFile),
  };
}

function readSnmp(r: ConfigReader, at: string, raw: unknown): SnmpEquipmentOptions {
  const s = r.obj(at, raw);
  r.noUnknown(at, s, ['version', 'communityFile', 'user', 'index', 'maxRepetitions', 'retries']);
  const version = r.oneOf(`${at}.version`, typeof s.version === 'number' ? String(s.version) : s.version, ['2c', '3'] as const);
  const out: SnmpEquipmentOptions = {
    version,
    maxRepetitions: r.int(`${at}.maxRepetitions`, s.maxRepetitions, 1, 100, 20),
    retries: r.int(`${at}.retries`, s.retries, 0, 5, 1),
  };
  if (version === '2c') {
    if (s.user !== undefined) r.fail(`${at}.user`, 'is for version 3; v2c uses communityFile');
    out.communityFile = r.file(`${at}.communityFile`, s.communityFile);
  } else {
    if (s.communityFile !== undefined) r.fail(`${at}.communityFile`, 'is for version 2c; version 3 uses user');
    out.user = readSnmpUser(r, `${at}.user`, s.user);
  }
  if (s.index !== undefined) {
    const index = typeof s.index === 'number' ? String(s.index) : r.str(`${at}.index`, s.index);
    if (!/^\d+(?:\.\d+)*$/.test(index)) r.fail(`${at}.index`, 'must be a table index such as 3 or 1.2');
    out.index = index;
  }
  return out;
}

function readRedfish(r: ConfigReader, at: string, raw: unknown): RedfishEquipmentOptions {
  const f = r.obj(at, raw);
  r.noUnknown(at, f, ['chassis', 'auth', 'username', 'passwordFile', 'tls']);
  const chassis = r.str(`${at}.chassis`, f.chassis === undefined ? undefined : String(f.chassis), '1');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(chassis)) r.fail(`${at}.chassis`, 'must be a chassis id (letters, digits, _ . -)');
  const tls = r.obj(`${at}.tls`, f.tls);
  r.noUnknown(`${at}.tls`, tls, ['caFile', 'pinSha256', 'servername']);
  if ((tls.caFile === undefined) === (tls.pinSha256 === undefined)) r.fail(`${at}.tls`, 'needs exactly one of caFile (the CA the BMC certificate chains to) or pinSha256 (the SHA-256 of its certificate, hex)');
  const out: RedfishEquipmentOptions = {
    chassis,
    auth: r.oneOf(`${at}.auth`, f.auth, ['basic', 'session'] as const, 'session'),
    username: r.str(`${at}.username`, f.username),
    passwordFile: r.file(`${at}.passwordFile`, f.passwordFile),
    tls: {},
  };
  if (tls.caFile !== undefined) out.tls.caFile = r.file(`${at}.tls.caFile`, tls.caFile);
  if (tls.pinSha256 !== undefined) {
    const pin = r.str(`${at}.tls.pinSha256`, tls.pinSha256).replace(/:/g, '').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(pin)) r.fail(`${at}.tls.pinSha256`, 'must be the SHA-256 of the BMC certificate (DER) as 64 hex digits (colons allowed)');
    out.tls.pinSha256 = pin;
  }
  if (tls.servername !== undefined) out.tls.servername = r.str(`${at}.tls.servername`, tls.servername);
  return out;
}

export function loadGuardianConfig(file: string): GuardianConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read guardian config ${file}: ${(err as Error).message}`, { source: file });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid YAML: ${(err as Error).message}`, { source: file });
  }
  return validateGuardianConfig(doc, file, path.dirname(path.resolve(file)));
}
