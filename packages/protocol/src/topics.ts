/**
 * Topic names. Telemetry uses the Eclipse Sparkplug B namespace so SCADA hosts can read it:
 *   spBv1.0/<group>/<type>/<edge node>/<device>
 * where group = site id, edge node = guardian device id, device = asset id.
 * Control messages live beside it, one subtree per guardian:
 *   shellguard/v1/device/<device id>/up/<kind>     guardian -> server
 *   shellguard/v1/device/<device id>/down/<kind>   server -> guardian
 */
import { ProtocolError } from './errors.ts';

export const SPARKPLUG_NAMESPACE = 'spBv1.0';
export const CONTROL_NAMESPACE = 'shellguard/v1/device';

export const SparkplugMessageTypes = [
  'NBIRTH', 'NDEATH', 'DBIRTH', 'DDEATH', 'NDATA', 'DDATA', 'NCMD', 'DCMD',
] as const;
export type SparkplugMessageType = (typeof SparkplugMessageTypes)[number];

/** Message types a guardian may publish (commands flow the other way). */
const DEVICE_PUBLISHED_TYPES: ReadonlySet<string> = new Set([
  'NBIRTH', 'NDEATH', 'DBIRTH', 'DDEATH', 'NDATA', 'DDATA',
]);

export interface SparkplugTopic {
  group: string;
  type: SparkplugMessageType;
  edge: string;
  /** Absent for node-level messages (NBIRTH, NDEATH, NDATA, NCMD). */
  device?: string;
}

/** Sparkplug B §4.1: ids are UTF-8 strings without the MQTT separators and wildcards. */
const ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export function isValidId(id: string): boolean {
  return ID_PATTERN.test(id);
}

function requireId(kind: string, id: string): void {
  if (!isValidId(id)) {
    throw new ProtocolError('invalid_id', `${kind} "${id}" must be 1-128 characters of A-Z a-z 0-9 . _ : -`, { kind, id });
  }
}

export function sparkplugTopic(t: SparkplugTopic): string {
  requireId('group', t.group);
  requireId('edge node', t.edge);
  if (t.device !== undefined) requireId('device', t.device);
  const base = `${SPARKPLUG_NAMESPACE}/${t.group}/${t.type}/${t.edge}`;
  return t.device === undefined ? base : `${base}/${t.device}`;
}

/** Parses a Sparkplug topic; returns undefined when the topic is not a well-formed one. */
export function parseSparkplugTopic(topic: string): SparkplugTopic | undefined {
  const parts = topic.split('/');
  if (parts[0] !== SPARKPLUG_NAMESPACE || parts.length < 4 || parts.length > 5) return undefined;
  const [, group, type, edge, device] = parts as [string, string, string, string, string | undefined];
  if (!(SparkplugMessageTypes as readonly string[]).includes(type)) return undefined;
  if (!isValidId(group) || !isValidId(edge)) return undefined;
  const isDeviceLevel = type.startsWith('D');
  if (isDeviceLevel !== (device !== undefined)) return undefined;
  if (device !== undefined && !isValidId(device)) return undefined;
  return device === undefined
    ? { group, type: type as SparkplugMessageType, edge }
    : { group, type: type as SparkplugMessageType, edge, device };
}

export type ControlDirection = 'up' | 'down';

export function controlTopic(deviceId: string, direction: ControlDirection, kind: string): string {
  requireId('device id', deviceId);
  requireId('control kind', kind);
  return `${CONTROL_NAMESPACE}/${deviceId}/${direction}/${kind}`;
}

export interface ControlTopic {
  deviceId: string;
  direction: ControlDirection;
  kind: string;
}

export function parseControlTopic(topic: string): ControlTopic | undefined {
  const prefix = `${CONTROL_NAMESPACE}/`;
  if (!topic.startsWith(prefix)) return undefined;
  const parts = topic.slice(prefix.length).split('/');
  if (parts.length !== 3) return undefined;
  const [deviceId, direction, kind] = parts as [string, string, string];
  if (!isValidId(deviceId) || !isValidId(kind)) return undefined;
  if (direction !== 'up' && direction !== 'down') return undefined;
  return { deviceId, direction, kind };
}

/** Control message kinds. */
export const ControlKinds = {
  /** server -> guardian: which batches are durably stored (or permanently refused). */
  ack: 'ack',
  /** guardian -> server: a crash or error report (bounded, rate-limited on both sides). */
  report: 'report',
  /** server -> panel controller: the Andon state of one panel and whether its door is covered by work. */
  andon: 'andon',
  /** server -> guardian: a signed director instruction; guardian -> server: its update progress (issue 11). */
  update: 'update',
} as const;

/**
 * Broker ACL (ARCHITECTURE.md §2, least privilege): a guardian may publish only Sparkplug
 * messages whose edge node is itself, and control messages under its own `up` subtree.
 */
export function deviceMayPublish(deviceId: string, topic: string): boolean {
  const sp = parseSparkplugTopic(topic);
  if (sp) return sp.edge === deviceId && DEVICE_PUBLISHED_TYPES.has(sp.type);
  const ctl = parseControlTopic(topic);
  return ctl !== undefined && ctl.deviceId === deviceId && ctl.direction === 'up';
}

/**
 * A guardian may subscribe only to its own `down` subtree and to Sparkplug commands addressed to
 * it. Wildcards are allowed only where they cannot widen the subscription to another device.
 */
export function deviceMaySubscribe(deviceId: string, filter: string): boolean {
  const parts = filter.split('/');
  const own = `${CONTROL_NAMESPACE}/${deviceId}/down`.split('/');
  if (parts.length >= own.length && own.every((p, i) => parts[i] === p)) {
    const rest = parts.slice(own.length);
    // `.../down/#` or `.../down/<kind>` or `.../down/+`
    return rest.length === 1 && (rest[0] === '#' || rest[0] === '+' || isValidId(rest[0] ?? ''));
  }
  if (parts[0] === SPARKPLUG_NAMESPACE && parts.length >= 4) {
    const [, group, type, edge, ...tail] = parts as [string, string, string, string, ...string[]];
    if (group !== '+' && !isValidId(group)) return false;
    if (edge !== deviceId) return false;
    if (type === 'NCMD') return tail.length === 0;
    if (type === 'DCMD') return tail.length === 1 && (tail[0] === '+' || tail[0] === '#' || isValidId(tail[0] ?? ''));
  }
  return false;
}
