/**
 * Commands to Mosquitto 2.0's dynamic-security plugin, over the broker's own MQTT control topic
 * (mosquitto/plugins/dynamic-security/README.md): a JSON `{ commands: [...] }` published to
 * $CONTROL/dynamic-security/v1, answered by `{ responses: [...] }` on .../response. Commands in one
 * message run in order, so a role can be created and given to a client in one round trip.
 *
 * Every Shellguard replica sees every response on the response topic; each command carries a
 * correlationData unique to this client, and only those answers are taken.
 */
import { randomBytes } from 'node:crypto';
import { DYNSEC_COMMAND_TOPIC, DYNSEC_RESPONSE_TOPIC } from './device-acls.ts';
import { ExternalBrokerError } from './external-broker-error.ts';

export interface DynamicSecurityCommand {
  command: string;
  [field: string]: unknown;
}

export interface DynamicSecurityResponse {
  command: string;
  /** The plugin's own words, e.g. "Client already exists", "Client not found". */
  error?: string;
  data?: unknown;
}

/** The part of an MQTT client this needs: publish one message now (QoS 0, nothing queued while offline). */
export interface CommandChannel {
  publish(topic: string, payload: string): void;
}

export interface DynamicSecurityClientOptions {
  /** How long to wait for the plugin's answer (default 10 s). */
  timeoutMs?: number;
}

interface Pending {
  resolve: (response: DynamicSecurityResponse) => void;
  timer: NodeJS.Timeout;
}

export class DynamicSecurityClient {
  private readonly pending = new Map<string, Pending>();
  private readonly prefix = randomBytes(6).toString('hex');
  private next = 0;
  private readonly timeoutMs: number;

  constructor(private readonly channel: CommandChannel, options: DynamicSecurityClientOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * Sends the commands in one message, synchronously (so a command sent before a reply to a device
   * reaches the broker before that device can act on the reply), and resolves with one response per
   * command, in order. A command without an answer in time rejects with `dynsec_command_failed`.
   */
  send(commands: readonly DynamicSecurityCommand[]): Promise<DynamicSecurityResponse[]> {
    const tagged = commands.map((command) => ({ ...command, correlationData: `${this.prefix}-${++this.next}` }));
    const answers = tagged.map((command) => new Promise<DynamicSecurityResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(command.correlationData);
        reject(new ExternalBrokerError('dynsec_command_failed', `no answer to dynamic-security ${command.command} within ${this.timeoutMs} ms`, { command: command.command }));
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(command.correlationData, { resolve, timer });
    }));
    try {
      this.channel.publish(DYNSEC_COMMAND_TOPIC, JSON.stringify({ commands: tagged }));
    } catch (err) {
      for (const command of tagged) this.settle(command.correlationData, { command: command.command, error: String(err) });
    }
    return Promise.all(answers);
  }

  /** Feeds a message from the response topic; returns false for any other topic. */
  handleMessage(topic: string, payload: Buffer): boolean {
    if (topic !== DYNSEC_RESPONSE_TOPIC) return false;
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      return true;
    }
    const responses = (parsed as { responses?: unknown }).responses;
    if (!Array.isArray(responses)) return true;
    for (const r of responses as { command?: unknown; error?: unknown; data?: unknown; correlationData?: unknown }[]) {
      if (typeof r?.correlationData !== 'string') continue;
      this.settle(r.correlationData, {
        command: String(r.command),
        ...(typeof r.error === 'string' ? { error: r.error } : {}),
        ...(r.data !== undefined ? { data: r.data } : {}),
      });
    }
    return true;
  }

  /** Answers every outstanding command with an error (the connection went away). */
  failPending(reason: string): void {
    for (const id of [...this.pending.keys()]) this.settle(id, { command: 'unknown', error: reason });
  }

  private settle(correlationData: string, response: DynamicSecurityResponse): void {
    const waiting = this.pending.get(correlationData);
    if (!waiting) return;
    this.pending.delete(correlationData);
    clearTimeout(waiting.timer);
    waiting.resolve(response);
  }
}

/**
 * Errors that mean "already as wanted": creating what exists, deleting what is gone. (Not "Role
 * not found" from createClient: that client was not created.)
 */
export function isIdempotentOutcome(response: DynamicSecurityResponse): boolean {
  if (response.error === undefined) return true;
  if (response.command.startsWith('create')) return /already exists/i.test(response.error);
  if (response.command.startsWith('delete')) return /not found/i.test(response.error);
  return false;
}
