/**
 * Keeps the files an external Mosquitto verifies client certificates with: its `crlfile` (one CRL
 * per issuing CA, RFC 5280 §5) and its `cafile` (the trust anchors). Each file is written whole
 * and renamed into place, then the broker is told to reload: Mosquitto 2.0 reads both only at
 * start and on SIGHUP (src/loop.c: config reload rebuilds each TLS listener's context).
 *
 * With `crlfile` set, OpenSSL checks every leaf against its issuer's CRL (X509_V_FLAG_CRL_CHECK)
 * and refuses ALL certificates once that CRL is past its nextUpdate (24 h from generation), so the
 * CRL is rewritten at least hourly even when nothing was revoked.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { errorMessage } from '@shellguard/protocol';

export interface BrokerTrustFilesOptions {
  crlFile: string;
  caFile: string;
  /** The CRLs to publish (FleetService.crls: revoked, unexpired operational certificates). */
  crls: () => Promise<string[]>;
  /** Makes the broker read the files again (reloadByPidFile, or a no-op when systemd watches them). */
  reload: () => void;
  logger: Logger;
  /** How often the CRL is rewritten without a change (default 1 h; the CRL is valid 24 h). */
  refreshIntervalMs?: number;
}

/** Sends SIGHUP to the Mosquitto whose pid_file this is. */
export function reloadByPidFile(pidFile: string): () => void {
  return () => {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`${pidFile} does not hold a process id`);
    process.kill(pid, 'SIGHUP');
  };
}

/** Writes `text` to `file` so that a reader sees the old file or the new one, never a part. */
export function writeFileAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  // Certificates and CRLs are public; the broker may run as another user.
  writeFileSync(temporary, text, { mode: 0o644 });
  renameSync(temporary, file);
}

export class BrokerTrustFiles {
  private readonly log: Logger;
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The last CRL write and reload that finished, ms since epoch (for measurements and health). */
  lastCrlWrittenAt: number | undefined;

  constructor(private readonly options: BrokerTrustFilesOptions) {
    this.log = options.logger.child({ component: 'broker-trust-files' });
  }

  /** Rewrites the CRL now; calls made while a write runs share one more write after it. */
  writeCrl(): Promise<void> {
    if (this.running) {
      this.next ??= this.running.catch(() => undefined).then(() => {
        this.next = undefined;
        return this.writeCrl();
      });
      return this.next;
    }
    this.running = this.writeCrlOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async writeCrlOnce(): Promise<void> {
    const crls = await this.options.crls();
    writeFileAtomically(this.options.crlFile, crls.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join(''));
    this.options.reload();
    this.lastCrlWrittenAt = Date.now();
    this.log.info({ crlFile: this.options.crlFile, issuers: crls.length }, 'broker CRL written and reloaded');
  }

  /** Replaces the broker's trust anchors (a root rotation) for handshakes from now on. */
  writeTrustAnchors(caPems: readonly string[]): void {
    writeFileAtomically(this.options.caFile, caPems.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join(''));
    this.options.reload();
    this.log.info({ caFile: this.options.caFile, trustAnchors: caPems.length }, 'broker trust anchors written and reloaded');
  }

  /** Keeps the CRL from reaching its nextUpdate. */
  start(): void {
    this.timer = setInterval(() => {
      this.writeCrl().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, 'could not refresh the broker CRL; will retry'));
    }, this.options.refreshIntervalMs ?? 3_600_000);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
