/**
 * The topic rights the external broker's dynamic-security plugin gives a device and Shellguard
 * itself: the same least privilege the embedded broker enforces with deviceMayPublish and
 * deviceMaySubscribe (@shellguard/protocol, ARCHITECTURE.md §2), written as Mosquitto 2.0 ACLs.
 *
 * Mosquitto matches `+` against any one level, so a pattern below may admit a level that is not a
 * valid id (`spBv1.0/a b/NDATA/<id>`): still only under the device's own topics. MosquittoBroker
 * checks every delivered message with deviceMayPublish again before ingest sees it.
 */
import { CONTROL_NAMESPACE, DEVICE_ID_PATTERN, SPARKPLUG_NAMESPACE } from '@shellguard/protocol';

/** Mosquitto 2.0 dynamic-security ACL types. */
export type AclType =
  | 'publishClientSend' | 'publishClientReceive' | 'subscribeLiteral' | 'subscribePattern' | 'unsubscribeLiteral' | 'unsubscribePattern';

export interface Acl {
  acltype: AclType;
  topic: string;
  /** Checked highest first (plugins/dynamic-security/acl.c); the first match decides. */
  priority: number;
  allow: boolean;
}

/** Where Shellguard sends dynamic-security commands, and where the plugin answers. */
export const DYNSEC_COMMAND_TOPIC = '$CONTROL/dynamic-security/v1';
export const DYNSEC_RESPONSE_TOPIC = '$CONTROL/dynamic-security/v1/response';

/** The broker's own log (log_dest topic): connections, subscriptions, TLS refusals. */
export const BROKER_LOG_TOPICS = ['$SYS/broker/log/N', '$SYS/broker/log/E', '$SYS/broker/log/W', '$SYS/broker/log/M/subscribe'] as const;

/** Every device-published topic, as one subscription filter each (Sparkplug B §4.1 and the control namespace). */
export const DEVICE_PUBLISHED_FILTERS = [
  `${SPARKPLUG_NAMESPACE}/+/NBIRTH/+`, `${SPARKPLUG_NAMESPACE}/+/NDEATH/+`, `${SPARKPLUG_NAMESPACE}/+/NDATA/+`,
  `${SPARKPLUG_NAMESPACE}/+/DBIRTH/+/+`, `${SPARKPLUG_NAMESPACE}/+/DDEATH/+/+`, `${SPARKPLUG_NAMESPACE}/+/DDATA/+/+`,
  `${CONTROL_NAMESPACE}/+/up/+`,
] as const;

/** Role names: one role per device, so revoking one device touches nothing else. */
export const DEVICE_ROLE_PREFIX = 'shellguard-device-';
export const SERVER_ROLE = 'shellguard-server';
export const SERVER_GROUP = 'shellguard-servers';
/** Usernames Shellguard's replicas may have on the broker (their certificates' CN); never a device id. */
export const SERVER_USERNAME_PATTERN = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;
/** MQTT v5 shared-subscription group of Shellguard's replicas (MQTT 5.0 §4.8.2). */
export const DEFAULT_SHARE_GROUP = 'shellguard-ingest';
/**
 * Kept in each device role's textname: a role written by another version of these ACLs is
 * replaced at the next reconciliation.
 */
export const DEVICE_ACL_VERSION = 'shellguard device ACL v1';

export function deviceRoleName(deviceId: string): string {
  return `${DEVICE_ROLE_PREFIX}${deviceId}`;
}

export function isDeviceUsername(username: string): boolean {
  return DEVICE_ID_PATTERN.test(username);
}

const allow = (acltype: AclType, topic: string): Acl => ({ acltype, topic, priority: 0, allow: true });

/**
 * What one device may do: publish its own Sparkplug node and device messages (never commands)
 * and its control `up` messages; subscribe to and receive its own `down` messages and the
 * Sparkplug commands addressed to it. Nothing else (the default ACL access denies it).
 */
export function deviceAcls(deviceId: string): Acl[] {
  if (!isDeviceUsername(deviceId)) throw new TypeError(`"${deviceId}" is not a device id`);
  const sp = `${SPARKPLUG_NAMESPACE}/+`;
  const down = `${CONTROL_NAMESPACE}/${deviceId}/down`;
  return [
    ...(['NBIRTH', 'NDEATH', 'NDATA'] as const).map((type) => allow('publishClientSend', `${sp}/${type}/${deviceId}`)),
    ...(['DBIRTH', 'DDEATH', 'DDATA'] as const).map((type) => allow('publishClientSend', `${sp}/${type}/${deviceId}/+`)),
    allow('publishClientSend', `${CONTROL_NAMESPACE}/${deviceId}/up/+`),
    // deviceMaySubscribe: `down/#`, `down/+` or `down/<kind>` — one level, never deeper.
    allow('subscribeLiteral', `${down}/#`),
    allow('subscribePattern', `${down}/+`),
    allow('subscribePattern', `${sp}/NCMD/${deviceId}`),
    // DCMD: `<id>/+`, `<id>/#` or `<id>/<device>`, never deeper nor `<id>` alone. A pattern's `#`
    // also matches its parent level (MQTT-4.7.1-2), so the order does the work: the one-level
    // allow first, then the denies, then `#` (dynsec checks a role's ACLs highest priority first).
    { ...allow('subscribePattern', `${sp}/DCMD/${deviceId}/+`), priority: 2 },
    { acltype: 'subscribePattern', topic: `${sp}/DCMD/${deviceId}/+/#`, priority: 1, allow: false },
    { acltype: 'subscribePattern', topic: `${sp}/DCMD/${deviceId}`, priority: 1, allow: false },
    allow('subscribePattern', `${sp}/DCMD/${deviceId}/#`),
    allow('publishClientReceive', `${down}/+`),
    allow('publishClientReceive', `${sp}/NCMD/${deviceId}`),
    allow('publishClientReceive', `${sp}/DCMD/${deviceId}/+`),
  ];
}

/**
 * What Shellguard's own clients may do: command the dynamic-security plugin, read the broker's
 * log, take device traffic (through a shared subscription, or all of it), and publish to devices' `down` and
 * Sparkplug command topics — never to a device's own topics, so it cannot forge telemetry either.
 */
export function serverAcls(shareGroup: string): Acl[] {
  return [
    allow('publishClientSend', DYNSEC_COMMAND_TOPIC),
    allow('subscribeLiteral', DYNSEC_RESPONSE_TOPIC),
    allow('publishClientReceive', DYNSEC_RESPONSE_TOPIC),
    ...BROKER_LOG_TOPICS.map((topic) => allow('subscribeLiteral', topic)),
    allow('publishClientReceive', '$SYS/broker/log/#'),
    ...DEVICE_PUBLISHED_FILTERS.map((filter) => allow('subscribeLiteral', `$share/${shareGroup}/${filter}`)),
    // Or all of it, for replicas that split the devices among themselves (replicas/device-affinity.ts).
    ...DEVICE_PUBLISHED_FILTERS.map((filter) => allow('subscribeLiteral', filter)),
    ...DEVICE_PUBLISHED_FILTERS.map((filter) => allow('publishClientReceive', filter)),
    allow('publishClientSend', `${CONTROL_NAMESPACE}/+/down/+`),
    allow('publishClientSend', `${SPARKPLUG_NAMESPACE}/+/NCMD/+`),
    allow('publishClientSend', `${SPARKPLUG_NAMESPACE}/+/DCMD/+/+`),
  ];
}
