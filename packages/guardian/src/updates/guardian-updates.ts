/**
 * Over-the-air updates for a running guardian: the updater with its TUF image source, the slots
 * of this installation, and the health check a trial release must pass — re-attest with its own
 * measurements, then have the server store telemetry it sent — before it is committed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { encodeUpdateStatus, errorMessage, type UpdateStatus, type UpdateStream } from '@shellguard/protocol';
import type { UpdatesConfig } from '../config/config.ts';
import { EnrolmentRefused } from '../attestation/enrol.ts';
import { extractBundleArchive, parseBundleManifest } from './bundle-archive.ts';
import { HttpsFetcher } from './https-fetcher.ts';
import { SlotStore } from './slots.ts';
import { TufImageSource } from './tuf-image-source.ts';
import { Updater, type HealthProbe } from './updater.ts';

export interface GuardianUpdatesOptions {
  updates: UpdatesConfig;
  dataDir: string;
  deviceId: string;
  apiUrl: string;
  /** The site root: the director's certificate chains to it. */
  rootCaPem: string;
  /** CA(s) the API's certificate chains to. */
  apiCaPem: string;
  /** The TLS client identity presented to the image repository: the current operational certificate. */
  clientCertificate: () => { certPem: string; keyPem: string } | undefined;
  publishStatus: (deploymentId: string, payload: Buffer) => void;
  restart: (reason: string) => void;
  now: () => number;
  logger: Logger;
}

export interface GuardianUpdates {
  updater: Updater;
  slots: SlotStore;
  /** The version the active slot of a stream holds (undefined in a slot state without versions). */
  runningVersion(stream: UpdateStream): string | undefined;
  /** True while a trial release runs: a refused attestation then rolls back instead of stopping. */
  inTrial(): boolean;
  /** A trial's attestation was refused: back to the committed slot, and restart. */
  rollBackRefused(err: EnrolmentRefused): void;
}

export function createGuardianUpdates(o: GuardianUpdatesOptions): GuardianUpdates {
  const slots = new SlotStore(o.dataDir, path.join(o.updates.installDir, 'slots'));
  recordInstalledVersions(slots, o.logger);
  const fetcherNow = (): HttpsFetcher => {
    const id = o.clientCertificate();
    return new HttpsFetcher({ ca: o.apiCaPem, ...(id ? { cert: id.certPem, key: id.keyPem } : {}) });
  };
  const images = new TufImageSource({
    apiUrl: o.apiUrl,
    metadataRoot: path.join(o.dataDir, 'tuf'),
    trustedRootsDir: o.updates.trustedRootsDir,
    // The repository is read with the device's operational certificate: the server serves it to
    // devices it trusts and to signed-in people only. A fetcher per request, so a renewed
    // certificate is used from the next download on.
    fetcher: {
      fetch: (url, maxLength) => fetcherNow().fetch(url, maxLength),
      fetchChunks: (url, maxLength) => fetcherNow().fetchChunks(url, maxLength),
    },
    now: () => new Date(o.now()),
  });
  const updater = new Updater({
    deviceId: o.deviceId, slots, images, rootCaPem: o.rootCaPem, workDir: path.join(o.dataDir, 'updates'),
    platform: { platform: `${process.platform}-${process.arch}`, nodeAbi: process.versions.modules },
    report: (s: Omit<UpdateStatus, 'v'>) => o.publishStatus(s.deploymentId, encodeUpdateStatus(s)),
    restart: o.restart, now: o.now, logger: o.logger,
    unpack: (file, dir) => {
      extractBundleArchive(readFileSync(file), dir);
      return Promise.resolve(parseBundleManifest(JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))));
    },
  });
  return {
    updater, slots,
    runningVersion: (stream) => {
      const s = slots.read().streams[stream];
      return s.versions?.[s.active];
    },
    inTrial: () => {
      const s = slots.read().streams;
      return s.application.trial !== null || s.platform.trial !== null;
    },
    rollBackRefused: (err) => {
      const reason = `attestation refused: ${err.code}: ${err.message}`;
      for (const stream of ['application', 'platform'] as const) {
        if (slots.read().streams[stream].trial !== null) slots.rollBack(stream, reason, o.now());
      }
      o.logger.error({ reason }, 'the new release was refused at attestation; rolled back to the committed slot');
      o.restart(reason);
    },
  };
}

/**
 * install.sh writes the first slot state without versions; the updater needs the running version
 * (no downgrades, `running` in every status report, where a rollback returns to). Taken from the
 * active slot's manifest.json, once, when the state does not say it.
 */
function recordInstalledVersions(slots: SlotStore, logger: Logger): void {
  for (const stream of ['application', 'platform'] as const) {
    const s = slots.read().streams[stream];
    if (s.versions?.[s.active] !== undefined) continue;
    let version: string;
    try {
      version = parseBundleManifest(JSON.parse(readFileSync(path.join(slots.slotDir(stream, s.active), 'manifest.json'), 'utf8'))).version;
    } catch (err) {
      logger.warn({ stream, slot: s.active, err: errorMessage(err) }, 'the active slot has no readable manifest.json; its version is unknown');
      continue;
    }
    slots.update(stream, (x) => ({ ...x, versions: { ...x.versions, [x.active]: version } }));
  }
}

export interface HealthSignals {
  /** True once the server has attested exactly what runs now. */
  attestedCurrent: () => boolean;
  /** Try attesting again (the server may have been unreachable at start); throws EnrolmentRefused on refusal. */
  reattest: () => Promise<void>;
  /** Batches the server has durably stored in this run. */
  storedBatches: () => number;
}

/** The trial's health check: re-attested with the new measurements, and telemetry stored, before the deadline. */
export function healthProbe(signals: HealthSignals, now: () => number, pollMs = 500): HealthProbe {
  return async (deadline) => {
    let lastAttempt = 0;
    let lastError = '';
    while (now() < deadline) {
      if (!signals.attestedCurrent() && now() - lastAttempt > 10_000) {
        lastAttempt = now();
        try {
          await signals.reattest();
        } catch (err) {
          if (err instanceof EnrolmentRefused) throw new Error(`attestation refused: ${err.code}: ${err.message}`);
          lastError = errorMessage(err);
        }
      }
      if (signals.attestedCurrent() && signals.storedBatches() > 0) return;
      await new Promise((r) => setTimeout(r, pollMs));
    }
    const missing = !signals.attestedCurrent() ? `not re-attested with the new measurements${lastError ? ` (${lastError})` : ''}` : 'no telemetry stored by the server';
    throw new Error(`health window expired: ${missing}`);
  };
}
