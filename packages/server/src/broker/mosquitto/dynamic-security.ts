/**
 * Per-device authorisation on the external broker, kept by Shellguard in Mosquitto's
 * dynamic-security plugin (ARCHITECTURE.md §2, least privilege; §5, ACLs that Shellguard generates).
 *
 * Mosquitto cannot read our certificate policy (OPERATIONAL_POLICY_OID), so the broker's rule is
 * about the DEVICE instead of the connection: a device's certificate name (its CN, the username
 * under use_identity_as_username) has rights only while Shellguard holds a dynsec client and role
 * for it, and Shellguard holds one only while the device is claimed, in good standing, and holds an
 * unexpired, unrevoked operational certificate (FleetService.brokerAccessUntil). Revoked
 * certificates are refused at the TLS handshake by the CRL (crl-writer.ts).
 *
 * Why delete and never disable: Mosquitto 2.0 skips the plugin's password check for certificate
 * identities (src/handle_connect.c, "Authentication assumed to be cleared"), and its ACL check
 * does not look at `disabled` (plugins/dynamic-security/acl.c). disableClient kicks the session,
 * but the device reconnects at once with all its rights (measured: mosquitto-broker.test.ts). A
 * deleted client has no roles, so every publish and subscription falls to the default deny.
 */
import type { Logger } from 'pino';
import { errorMessage } from '@shellguard/protocol';
import {
  DEVICE_ACL_VERSION, DEVICE_ROLE_PREFIX, SERVER_GROUP, deviceAcls, deviceRoleName, isDeviceUsername,
} from './device-acls.ts';
import { isIdempotentOutcome, type DynamicSecurityClient, type DynamicSecurityCommand } from './dynamic-security-client.ts';

/** The fleet's answer to "may this device use the broker, and until when?" (read from its store). */
export interface DeviceStanding {
  /** ms since epoch at which the device's access ends; undefined when it has none now. */
  accessUntil(deviceId: string): Promise<number | undefined>;
  /** Every device with access now and when it ends (for reconciliation). */
  devicesWithAccess(): Promise<Iterable<readonly [deviceId: string, until: number]>>;
}

export interface DeviceAccessOptions {
  dynsec: DynamicSecurityClient;
  standing: DeviceStanding;
  logger: Logger;
  now?: () => number;
  /**
   * A session the broker holds for a name without rights is closed, at most once per this long
   * per name (default 5 s): each eviction rewrites the plugin's file, so a reconnect loop must not
   * turn into a write loop.
   */
  evictionCooldownMs?: number;
  /** A session was found without rights and is being closed. */
  onEvicted?: (username: string) => void;
}

export interface ReconcileResult {
  granted: number;
  created: number;
  removed: number;
  repaired: number;
}

/** At most this many names wait for an eviction; beyond it the oldest wait is dropped. */
const MAX_PENDING_EVICTIONS = 10_000;
const MAX_TIMER_MS = 2_147_483_647;

interface ListedClient {
  username: string;
  roles?: { rolename: string }[];
}
interface ListedRole {
  rolename: string;
  textname?: string;
}

function grantCommands(deviceId: string): DynamicSecurityCommand[] {
  const rolename = deviceRoleName(deviceId);
  return [
    { command: 'createRole', rolename, textname: DEVICE_ACL_VERSION, acls: deviceAcls(deviceId) },
    { command: 'createClient', username: deviceId, textname: 'Shellguard device', roles: [{ rolename }] },
  ];
}

/** deleteClient kicks the device's session (plugins/dynamic-security/clients.c). */
function revokeCommands(deviceId: string): DynamicSecurityCommand[] {
  return [
    { command: 'deleteClient', username: deviceId },
    { command: 'deleteRole', rolename: deviceRoleName(deviceId) },
  ];
}

export class DeviceAccess {
  /** What Shellguard has told the broker: device id -> end of its access. */
  private readonly granted = new Map<string, number>();
  /** Shellguard's own usernames (the server group's clients), never evicted. */
  private serverUsernames = new Set<string>();
  /** Every username the plugin knew at the last reconciliation. */
  private knownUsernames = new Set<string>();
  private readonly lastEviction = new Map<string, number>();
  private readonly pendingEvictions = new Map<string, NodeJS.Timeout>();
  private readonly queues = new Map<string, Promise<void>>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly evictionCooldownMs: number;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly options: DeviceAccessOptions) {
    this.now = options.now ?? Date.now;
    this.evictionCooldownMs = options.evictionCooldownMs ?? 5_000;
    this.log = options.logger.child({ component: 'device-access' });
  }

  /** The broker lets this device act now (as far as Shellguard has told it). */
  isAuthorised(deviceId: string): boolean {
    const until = this.granted.get(deviceId);
    return until !== undefined && until > this.now();
  }

  /** Resolves once every change reported so far has been sent to the broker and answered. */
  async settled(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  isServerUsername(username: string): boolean {
    return this.serverUsernames.has(username);
  }

  /**
   * A device's claim or certificates changed: grant or withdraw its rights to match the fleet.
   * Changes of one device are applied in the order they were reported.
   */
  deviceChanged(deviceId: string): Promise<void> {
    if (!isDeviceUsername(deviceId) || this.closed) return Promise.resolve();
    return this.serialised(deviceId, () => this.sync(deviceId));
  }

  /**
   * Ends the device's session now: deleting its client kicks it, sent before anything is read,
   * so a revocation cuts the session within one round trip to the broker. If the fleet still lets
   * the device in, its rights come back right after, so it may reconnect, as with the embedded broker.
   */
  disconnect(deviceId: string): Promise<void> {
    if (!isDeviceUsername(deviceId) || this.closed) return Promise.resolve();
    this.granted.delete(deviceId);
    const kicked = this.apply(deviceId, 'disconnect', revokeCommands(deviceId));
    return this.serialised(deviceId, async () => {
      await kicked;
      await this.sync(deviceId);
    });
  }

  /**
   * The broker opened a session for `username` (its log says so). Returns true when the name has
   * rights now. Otherwise the fleet is asked once more (the grant of a device that has just been
   * given its certificate may still be on its way): a device that may use the broker gets its
   * rights and its session restarted, so it subscribes with them; any other session is closed —
   * the broker accepted the certificate, but it is not an authorised device's (an identity
   * certificate, an unclaimed, quarantined or revoked device, a name that is no device), which the
   * embedded broker refuses at CONNECT.
   */
  sessionOpened(username: string): boolean {
    if (this.closed || this.serverUsernames.has(username)) return true;
    if (!isDeviceUsername(username)) {
      // Someone else's account in the plugin (an operator's): its rights are theirs to manage.
      if (this.knownUsernames.has(username)) return true;
      this.scheduleEviction(username);
      return false;
    }
    if (this.isAuthorised(username)) return true;
    void this.serialised(username, async () => {
      await this.sync(username);
      if (this.isAuthorised(username)) {
        // Granted after the session opened: its subscriptions were refused; restart it with its rights.
        await this.apply(username, 'restart session', [{ command: 'modifyClient', username, roles: [{ rolename: deviceRoleName(username) }] }]);
      } else {
        this.scheduleEviction(username);
      }
    }).catch((err: unknown) => this.log.error({ username, err: errorMessage(err) }, 'could not decide on a session without rights'));
    return false;
  }

  private async sync(deviceId: string): Promise<void> {
    if (this.closed) return;
    const until = await this.options.standing.accessUntil(deviceId);
    const allowed = until !== undefined && until > this.now();
    if (allowed && !this.granted.has(deviceId)) {
      this.granted.set(deviceId, until);
      this.scheduleExpiry();
      await this.apply(deviceId, 'grant', grantCommands(deviceId));
    } else if (allowed) {
      this.granted.set(deviceId, until);
      this.scheduleExpiry();
    } else if (this.granted.has(deviceId)) {
      this.granted.delete(deviceId);
      await this.apply(deviceId, 'revoke', revokeCommands(deviceId));
    }
  }

  private serialised(deviceId: string, work: () => Promise<void>): Promise<void> {
    const previous = this.queues.get(deviceId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    const tail = next.catch((err: unknown) => this.log.error({ deviceId, err: errorMessage(err) }, 'device access change failed; the next reconciliation retries'));
    this.queues.set(deviceId, tail);
    void tail.then(() => {
      if (this.queues.get(deviceId) === tail) this.queues.delete(deviceId);
    });
    return next;
  }

  /**
   * Makes the plugin's device clients and roles match the fleet: run at start, after every
   * reconnect, and periodically. Also learns Shellguard's own usernames (the server group).
   */
  async reconcile(): Promise<ReconcileResult> {
    const [clientsAnswer, rolesAnswer, groupAnswer] = await this.options.dynsec.send([
      { command: 'listClients', verbose: true, count: -1, offset: 0 },
      { command: 'listRoles', verbose: true, count: -1, offset: 0 },
      { command: 'getGroup', groupname: SERVER_GROUP },
    ]);
    for (const answer of [clientsAnswer!, rolesAnswer!]) {
      if (answer.error !== undefined) throw new Error(`dynamic-security ${answer.command}: ${answer.error}`);
    }
    const clients = ((clientsAnswer!.data as { clients?: ListedClient[] } | undefined)?.clients ?? []);
    const roles = ((rolesAnswer!.data as { roles?: ListedRole[] } | undefined)?.roles ?? []);
    const groupClients = ((groupAnswer!.data as { group?: { clients?: { username: string }[] } } | undefined)?.group?.clients ?? []);
    this.serverUsernames = new Set(groupClients.map((c) => c.username));
    this.knownUsernames = new Set(clients.map((c) => c.username));

    const now = this.now();
    const desired = new Map<string, number>();
    for (const [deviceId, until] of await this.options.standing.devicesWithAccess()) {
      if (until > now && isDeviceUsername(deviceId)) desired.set(deviceId, until);
    }
    const clientByName = new Map(clients.filter((c) => isDeviceUsername(c.username)).map((c) => [c.username, c]));
    const roleByName = new Map(roles.filter((r) => r.rolename.startsWith(DEVICE_ROLE_PREFIX)).map((r) => [r.rolename, r]));
    const commands: DynamicSecurityCommand[] = [];
    const result: ReconcileResult = { granted: desired.size, created: 0, removed: 0, repaired: 0 };

    for (const username of clientByName.keys()) {
      if (desired.has(username)) continue;
      commands.push(...revokeCommands(username));
      roleByName.delete(deviceRoleName(username));
      result.removed++;
    }
    for (const [deviceId] of desired) {
      const rolename = deviceRoleName(deviceId);
      const role = roleByName.get(rolename);
      const client = clientByName.get(deviceId);
      roleByName.delete(rolename);
      if (!client) {
        if (role) commands.push({ command: 'deleteRole', rolename });
        commands.push(...grantCommands(deviceId));
        result.created++;
        continue;
      }
      const roleCurrent = role?.textname === DEVICE_ACL_VERSION;
      const holdsRole = client.roles?.some((r) => r.rolename === rolename) ?? false;
      if (roleCurrent && holdsRole && client.roles!.length === 1) continue;
      // A role from another version of the ACLs, or a client changed by hand: rebuild both
      // (modifyClient kicks the session so the new rights apply to it).
      if (role && !roleCurrent) commands.push({ command: 'deleteRole', rolename });
      if (!roleCurrent) commands.push(grantCommands(deviceId)[0]!);
      commands.push({ command: 'modifyClient', username: deviceId, roles: [{ rolename }] });
      result.repaired++;
    }
    // Roles left without their device.
    for (const rolename of roleByName.keys()) commands.push({ command: 'deleteRole', rolename });

    this.granted.clear();
    for (const [deviceId, until] of desired) this.granted.set(deviceId, until);
    this.scheduleExpiry();
    if (commands.length > 0) {
      const answers = await this.options.dynsec.send(commands);
      const failed = answers.filter((a) => !isIdempotentOutcome(a));
      if (failed.length > 0) this.log.error({ failed: failed.map((a) => `${a.command}: ${a.error}`) }, 'dynamic-security reconciliation left errors; next run retries');
    }
    this.log.info(result, 'device access reconciled with the broker');
    return result;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.expiryTimer);
    for (const timer of this.pendingEvictions.values()) clearTimeout(timer);
    this.pendingEvictions.clear();
  }

  private apply(deviceId: string, what: string, commands: DynamicSecurityCommand[]): Promise<void> {
    return this.options.dynsec.send(commands).then((answers) => {
      const failed = answers.filter((a) => !isIdempotentOutcome(a));
      if (failed.length > 0) {
        this.log.error({ deviceId, what, failed: failed.map((a) => `${a.command}: ${a.error}`) }, 'dynamic-security change failed; the next reconciliation retries');
      } else {
        this.log.info({ deviceId, what }, 'device access changed on the broker');
      }
    }, (err: unknown) => {
      this.log.error({ deviceId, what, err: errorMessage(err) }, 'dynamic-security change not confirmed; the next reconciliation retries');
    });
  }

  /** One timer, at the earliest end of access: certificates expire without any fleet event. */
  private scheduleExpiry(): void {
    clearTimeout(this.expiryTimer);
    if (this.closed || this.granted.size === 0) return;
    let earliest = Infinity;
    for (const until of this.granted.values()) earliest = Math.min(earliest, until);
    const delay = Math.min(Math.max(earliest - this.now(), 0), MAX_TIMER_MS);
    this.expiryTimer = setTimeout(() => {
      const now = this.now();
      for (const [deviceId, until] of [...this.granted]) if (until <= now) void this.deviceChanged(deviceId);
      this.scheduleExpiry();
    }, delay);
    this.expiryTimer.unref();
  }

  private scheduleEviction(username: string): void {
    if (this.pendingEvictions.has(username)) return;
    const now = this.now();
    const wait = Math.max(0, (this.lastEviction.get(username) ?? -Infinity) + this.evictionCooldownMs - now);
    if (this.pendingEvictions.size >= MAX_PENDING_EVICTIONS) {
      const [oldest, timer] = this.pendingEvictions.entries().next().value!;
      clearTimeout(timer);
      this.pendingEvictions.delete(oldest);
    }
    const timer = setTimeout(() => {
      this.pendingEvictions.delete(username);
      // Authorised meanwhile (the grant raced the connection): leave it.
      if (this.closed || (isDeviceUsername(username) && this.isAuthorised(username))) return;
      this.lastEviction.set(username, this.now());
      this.options.onEvicted?.(username);
      if (this.lastEviction.size > MAX_PENDING_EVICTIONS) this.lastEviction.delete(this.lastEviction.keys().next().value!);
      // The plugin kicks only names it knows: create the name without rights, then delete it.
      void this.apply(username, 'evict', [
        { command: 'createClient', username, textname: 'Shellguard eviction' },
        { command: 'deleteClient', username },
      ]);
    }, wait);
    timer.unref();
    this.pendingEvictions.set(username, timer);
  }
}
