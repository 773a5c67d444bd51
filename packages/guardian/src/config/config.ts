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

class Reader {
  constructor(private readonly source: string, private readonly baseDir: string) {}

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
  const r = new Reader(source, baseDir);
  const d = r.obj('(root)', doc);
  r.noUnknown('', d, ['site', 'dataDir', 'server', 'profilesDir', 'queue', 'equipment', 'panels', 'updates']);
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
    r.noUnknown(at, e, ['asset', 'name', 'area', 'profile', 'host', 'port', 'unitId', 'pollIntervalMs', 'fastPollIntervalMs', 'timeoutMs']);
    const asset = r.id(`${at}.asset`, e.asset);
    if (seen.has(asset)) r.fail(`${at}.asset`, `asset ${asset} is listed twice`);
    seen.add(asset);
    return {
      asset,
      name: r.str(`${at}.name`, e.name, asset),
      area: r.id(`${at}.area`, e.area ?? 'unassigned'),
      profile: r.id(`${at}.profile`, e.profile),
      host: r.str(`${at}.host`, e.host),
      port: r.int(`${at}.port`, e.port, 1, 65535, 502),
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
