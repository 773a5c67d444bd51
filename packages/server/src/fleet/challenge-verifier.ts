/**
 * The server's check of a signed challenge request: the stateless proof of possession from
 * protocol (form, time window, key bound to the device id, ES256 signature), then the replay
 * window. Only a request that passes both may have a nonce issued for its device, so nobody but
 * the key holder can make the nonce store drop a device's nonces.
 *
 * Parsed keys are cached as EvidenceVerifier does, and only after they verified a signature, so
 * the cache holds keys of real signers and a flood of junk keys cannot churn it.
 */
import {
  CHALLENGE_MAX_SKEW_MS, importDevicePublicJwk, verifyChallengeRequest, type DeviceKey, type DevicePublicJwk,
  type VerifiedChallengeRequest,
} from '@shellguard/protocol';
import { ChallengeReplayWindow, type ChallengeReplayWindowOptions } from './challenge-replay-window.ts';
import { AttestationError } from './fleet-error.ts';

const KEY_CACHE_LIMIT = 10_000;

export interface ChallengeVerifierOptions {
  /** How far issuedAt may be from the server clock (default CHALLENGE_MAX_SKEW_MS). */
  maxSkewMs?: number;
  replay?: Omit<ChallengeReplayWindowOptions, 'windowMs'>;
}

export class ChallengeVerifier {
  private readonly maxSkewMs: number;
  private readonly replay: ChallengeReplayWindow;
  private readonly keys = new Map<string, DeviceKey>();

  constructor(options: ChallengeVerifierOptions = {}) {
    this.maxSkewMs = options.maxSkewMs ?? CHALLENGE_MAX_SKEW_MS;
    this.replay = new ChallengeReplayWindow({ ...options.replay, windowMs: this.maxSkewMs });
  }

  /**
   * Throws AttestationError challenge_proof_invalid, challenge_stale or challenge_replayed.
   * `known` says whether the device has a claim record (how its request ids are remembered); it
   * is asked only once the proof verified.
   */
  async verify(request: unknown, now: number, known: (deviceId: string) => Promise<boolean>): Promise<VerifiedChallengeRequest> {
    const check = verifyChallengeRequest(request, {
      now, maxSkewMs: this.maxSkewMs, importKey: (jwk) => this.keys.get(this.cacheKey(jwk)) ?? importDevicePublicJwk(jwk),
    });
    if (!check.ok) throw new AttestationError(check.refusal, check.message);
    const verified = check.request;
    const replay = this.replay.admit(verified.deviceId, verified.requestId, verified.issuedAt, now, await known(verified.deviceId));
    if (replay === 'challenge_replayed') {
      throw new AttestationError('challenge_replayed', 'this challenge request was already used; sign a new one with a new requestId', {
        deviceId: verified.deviceId,
      });
    }
    if (replay === 'challenge_stale') {
      throw new AttestationError('challenge_stale', 'this challenge request is older than requests this device has already made; sign a new one', {
        deviceId: verified.deviceId,
      });
    }
    this.remember((request as { publicKey: DevicePublicJwk }).publicKey, { key: verified.publicKey, deviceId: verified.deviceId });
    return verified;
  }

  private cacheKey(jwk: DevicePublicJwk): string {
    return `${jwk.x}.${jwk.y}`;
  }

  private remember(jwk: DevicePublicJwk, entry: DeviceKey): void {
    const k = this.cacheKey(jwk);
    if (this.keys.has(k)) return;
    if (this.keys.size >= KEY_CACHE_LIMIT) this.keys.delete(this.keys.keys().next().value!);
    this.keys.set(k, entry);
  }
}
