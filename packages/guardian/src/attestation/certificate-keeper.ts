/**
 * Keeps the guardian's operational certificate fresh (the Azure Sphere daily-attestation model,
 * ARCHITECTURE.md §2). The certificate lives in `<dataDir>/operational.crt` (leaf + issuing CA,
 * replaced atomically) so a restart does not need a new attestation while it is still fresh.
 *
 * Re-attestation is due when 2/3 of the certificate's lifetime has passed; the last third is the
 * margin for a server that is down. A failed attempt is retried with capped exponential backoff;
 * meanwhile the old certificate stays in use for as long as it is valid. Every renewal is handed
 * to `onRenewed`, which lets the uplink present the new certificate.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { MAX_TIMER_DELAY_MS, errorMessage, systemClock, type Clock, type TimerHandle } from '@shellguard/protocol';
import type { KeyStore } from '../identity/key-store.ts';
import { writeFileAtomically } from './boot-counter.ts';
import { EnrolmentError, EnrolmentRefused, verifyIssuedChain, type Enrolment } from './enrol.ts';

export const OPERATIONAL_CERTIFICATE_FILE = 'operational.crt';

export interface CertificateKeeperOptions {
  dataDir: string;
  keyStore: KeyStore;
  /** The site root CA (PEM): a stored certificate must still chain to it to be reused. */
  rootCaPem: string;
  /** One attestation + enrolment, e.g. `() => enrol({ ...fixed options, now })`. */
  enrol: () => Promise<Enrolment>;
  /** Called with the new chain (leaf + issuing CA PEM) after every successful renewal. */
  onRenewed?: (certChainPem: string) => void;
  logger: Logger;
  /** Time, and the renewal and retry timers (default systemClock; its timers are unref'd). */
  clock?: Clock;
  /** Fraction of the lifetime after which to renew; default 2/3. */
  renewAtFraction?: number;
  /** First retry delay after a failure; default 10 s. */
  retryInitialMs?: number;
  /** Longest retry delay; default 10 min. */
  retryMaxMs?: number;
}

export interface HeldCertificate {
  certChainPem: string;
  /** epoch ms */
  notBefore: number;
  notAfter: number;
  serial: string;
}

export class CertificateKeeper {
  private readonly opts: CertificateKeeperOptions;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly file: string;
  private held: HeldCertificate | undefined;
  private timer: TimerHandle | undefined;
  private failures = 0;
  private attempt: Promise<HeldCertificate> | undefined;
  private stopped = false;

  constructor(options: CertificateKeeperOptions) {
    this.opts = options;
    this.clock = options.clock ?? systemClock;
    this.now = () => this.clock.now();
    this.file = path.join(options.dataDir, OPERATIONAL_CERTIFICATE_FILE);
  }

  /** The certificate in use, if any (possibly past its renewal time, never expired). */
  current(): HeldCertificate | undefined {
    if (this.held && this.held.notAfter <= this.now()) this.held = undefined;
    return this.held;
  }

  /** When the held certificate is due for re-attestation (epoch ms). */
  renewalDueAt(cert: HeldCertificate): number {
    const fraction = this.opts.renewAtFraction ?? 2 / 3;
    return cert.notBefore + Math.floor((cert.notAfter - cert.notBefore) * fraction);
  }

  /**
   * Returns a valid operational certificate chain, attesting first when there is none or the held
   * one is due for renewal, and schedules the next renewal. When attestation fails but the held
   * certificate is still valid, returns that one (a retry is scheduled). When there is no valid
   * certificate at all, throws the enrolment error; retries continue in the background and
   * `onRenewed` reports the first success.
   */
  async ensureCertificate(): Promise<string> {
    this.stopped = false;
    if (!this.held) this.held = this.loadStored();
    const held = this.current();
    if (held && this.now() < this.renewalDueAt(held)) {
      this.schedule(this.renewalDueAt(held) - this.now());
      return held.certChainPem;
    }
    try {
      return (await this.renew()).certChainPem;
    } catch (err) {
      const fallback = this.current();
      if (fallback) return fallback.certChainPem;
      throw err;
    }
  }

  /** Cancels the scheduled renewal or retry. */
  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Attests now. On failure a retry is scheduled and the error is rethrown. */
  renew(): Promise<HeldCertificate> {
    this.attempt ??= this.attemptRenewal().finally(() => { this.attempt = undefined; });
    return this.attempt;
  }

  private async attemptRenewal(): Promise<HeldCertificate> {
    const { logger } = this.opts;
    let enrolment: Enrolment;
    try {
      enrolment = await this.opts.enrol();
    } catch (err) {
      this.failures += 1;
      const retryInMs = this.retryDelay();
      const fields = {
        result: err instanceof EnrolmentRefused ? 'refused' : 'failed',
        code: err instanceof EnrolmentRefused ? err.refusal : err instanceof EnrolmentError ? err.code : 'unexpected',
        err: errorMessage(err),
        failures: this.failures,
        retryInMs,
        keepsCertificateUntil: this.current() ? new Date(this.current()!.notAfter).toISOString() : null,
      };
      if (this.current()) logger.warn(fields, 're-attestation failed; keeping the current certificate while it is valid');
      else logger.error(fields, 'attestation failed; the guardian has no operational certificate and cannot connect');
      this.schedule(retryInMs);
      throw err;
    }
    const cert: HeldCertificate = {
      certChainPem: enrolment.certificatePem,
      notBefore: enrolment.notBefore,
      notAfter: enrolment.notAfter,
      serial: enrolment.serial,
    };
    this.failures = 0;
    this.held = cert;
    try {
      writeFileAtomically(this.file, cert.certChainPem, 0o644);
    } catch (err) {
      logger.warn({ err: errorMessage(err), file: this.file }, 'could not store the operational certificate; the next start attests again');
    }
    const dueAt = this.renewalDueAt(cert);
    logger.info({
      result: 'renewed', serial: cert.serial, notAfter: new Date(cert.notAfter).toISOString(), renewAt: new Date(dueAt).toISOString(),
    }, 'attestation passed; operational certificate issued');
    this.schedule(dueAt - this.now());
    try {
      this.opts.onRenewed?.(cert.certChainPem);
    } catch (err) {
      logger.error({ err: errorMessage(err) }, 'switching to the renewed certificate failed');
    }
    return cert;
  }

  private retryDelay(): number {
    const initial = this.opts.retryInitialMs ?? 10_000;
    const max = this.opts.retryMaxMs ?? 10 * 60_000;
    return Math.min(max, initial * 2 ** Math.min(this.failures - 1, 30));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.clock.clearTimeout(this.timer);
    // Longer waits than a timer takes are cut, and re-checked when it fires.
    const delay = Math.max(0, Math.min(delayMs, MAX_TIMER_DELAY_MS));
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.onTimer();
    }, delay).unref();
  }

  private onTimer(): void {
    const held = this.current();
    if (held && this.now() < this.renewalDueAt(held) && this.failures === 0) {
      // A long wait was cut to the timer limit (or the clock moved): not due yet.
      this.schedule(this.renewalDueAt(held) - this.now());
      return;
    }
    this.renew().catch(() => { /* logged and rescheduled in attemptRenewal */ });
  }

  /** The stored certificate if it is still usable for this key and this root, else undefined. */
  private loadStored(): HeldCertificate | undefined {
    let pem: string;
    try {
      pem = readFileSync(this.file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const { leaf } = verifyIssuedChain(pem, this.opts.rootCaPem, this.opts.keyStore, this.now());
      return { certChainPem: pem, notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo), serial: leaf.serialNumber.toLowerCase() };
    } catch (err) {
      this.opts.logger.info({ reason: errorMessage(err) }, 'the stored operational certificate cannot be reused; attesting again');
      return undefined;
    }
  }
}
