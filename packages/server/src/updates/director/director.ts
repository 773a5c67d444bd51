/**
 * The director (Uptane): decides nothing itself — the deployment engine does — but turns each
 * decision into a per-device instruction signed with a key the site PKI certifies for this one
 * purpose (a certificate for the name `shellguard-director`), and delivers it over the device's
 * own mTLS control topic. The device checks the chain to the site root it already trusts, and
 * then checks every named image against the image repository's offline-signed targets.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import {
  ControlKinds, controlTopic, errorMessage, signDirectorInstruction, type DirectorInstruction, type InstructedImage,
} from '@shellguard/protocol';
import type { DirectorStore } from './director-store.ts';

/** An instruction not acted on within this long is stale; the next tick re-sends a fresh one. */
const INSTRUCTION_TTL_MS = 24 * 3600_000;

export interface DirectorInstructionInput {
  deploymentId: string;
  images: InstructedImage[];
  healthWindowSeconds: number;
  installNow: boolean;
}

export interface DirectorOptions {
  store: DirectorStore;
  /** The director's certificate chain (leaf first) and its private key, PEM. */
  chainPem: string;
  keyPem: string;
  publish: (topic: string, payload: Buffer) => Promise<void>;
  now: () => number;
  logger: Logger;
}

export class Director {
  private readonly key: KeyObject;

  constructor(private readonly opts: DirectorOptions) {
    this.key = createPrivateKey(opts.keyPem);
  }

  /** Signs and sends an instruction to one device; it is also kept to re-send on reconnect. */
  async instruct(deviceId: string, input: DirectorInstructionInput): Promise<DirectorInstruction> {
    const sequence = await this.opts.store.nextSequence(deviceId);
    const issuedAt = this.opts.now();
    const instruction: DirectorInstruction = {
      v: 1, deviceId, sequence, deploymentId: input.deploymentId, issuedAt, expiresAt: issuedAt + INSTRUCTION_TTL_MS,
      images: input.images, healthWindowSeconds: input.healthWindowSeconds, installNow: input.installNow,
    };
    const envelope = signDirectorInstruction(instruction, this.key, this.opts.chainPem);
    await this.opts.store.saveLatest(deviceId, sequence, envelope);
    await this.send(deviceId, envelope);
    return instruction;
  }

  /** A device (re)connected: it gets its latest instruction again (it ignores one it has acted on). */
  async resend(deviceId: string): Promise<void> {
    const latest = await this.opts.store.latest(deviceId);
    if (latest) await this.send(deviceId, latest.envelope);
  }

  private async send(deviceId: string, envelope: Buffer): Promise<void> {
    try {
      await this.opts.publish(controlTopic(deviceId, 'down', ControlKinds.update), envelope);
    } catch (err) {
      // Not fatal: the device gets it on its next connect.
      this.opts.logger.warn({ deviceId, err: errorMessage(err) }, 'update instruction not delivered now; it is re-sent when the device reconnects');
    }
  }
}
