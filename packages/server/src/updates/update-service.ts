/**
 * The server's update service, put together: the image repository (what is genuine), the
 * director (what each device is told), the rollout engine (who is told what, when), and the
 * MQTT edge where devices report progress.
 */
import type { Logger } from 'pino';
import { decodeUpdateStatus, errorMessage, DIRECTOR_CERT_NAME, type Clock, type UpdateStream } from '@shellguard/protocol';
import type { AuditRecorder } from '../audit/audit-log.ts';
import type { SqlDatabase, SqlExecutor } from '../db/sql-database.ts';
import { sqlUnitOfWork } from '../db/unit-of-work.ts';
import type { Pki } from '../pki/site-pki.ts';
import type { ImageRepository } from './image-repository.ts';
import { Director } from './director/director.ts';
import { SqlDirectorStore } from './director/sql-director-store.ts';
import {
  SqlDeploymentStore, createDeploymentService, fleetEvidenceCheck, fleetGroupDirectory, fleetReferenceValues,
  type DeploymentService, type FleetForRollouts, type ReleaseCatalog,
} from './rollout/index.ts';

/** The director's certificate is short-lived and re-issued at every start, like the server's TLS one. */
const DIRECTOR_CERT_DAYS = 30;

export interface UpdateServiceOptions {
  /** The server's database: the director's sequences and the deployments live there. */
  database: Pick<SqlDatabase, 'db' | 'engine'>;
  pki: Pki;
  repository: ImageRepository;
  fleet: FleetForRollouts;
  /** A deployment's change commits with its audit event: the audit log's recorder in that transaction. */
  audit: { recorderIn(tx: SqlExecutor): AuditRecorder };
  publishToDevice: (topic: string, payload: Buffer) => Promise<void>;
  /** Time, and the rollout engine's tick. */
  clock: Clock;
  logger: Logger;
  /** How often the rollout engine ticks (default 30 s; tests go faster). */
  tickIntervalMs?: number;
}

export interface UpdateService {
  deployments: DeploymentService;
  director: Director;
  /** A device published on its up/update topic. */
  onDeviceStatus(deviceId: string, payload: Buffer): void;
  /** A device (re)subscribed to its update topic: it gets its latest instruction again. */
  onDeviceSubscribed(deviceId: string): void;
  stop(): void;
}

/** The image repository as the rollout engine sees it: genuine targets by version. */
export function repositoryCatalog(repository: Pick<ImageRepository, 'listTargets'>): ReleaseCatalog {
  return {
    async find(product: string, stream: UpdateStream, version: string) {
      const targets = await repository.listTargets(product, stream).catch(() => []);
      const t = targets.find((x) => x.custom.version === version && x.custom.product === product && x.custom.stream === stream);
      return t ? { targetName: t.name, length: t.length, sha256: t.sha256, manifest: t.custom } : undefined;
    },
  };
}

export async function startUpdateService(o: UpdateServiceOptions): Promise<UpdateService> {
  const now = () => o.clock.now();
  const cert = await o.pki.issueServerCertificate({ hostnames: [DIRECTOR_CERT_NAME], ips: [], validityDays: DIRECTOR_CERT_DAYS, now: new Date(now()) });
  const log = o.logger.child({ part: 'updates' });
  const engine = o.database.engine;
  const director = new Director({
    store: new SqlDirectorStore(o.database.db), chainPem: cert.chainPem, keyPem: cert.keyPem, publish: o.publishToDevice, now, logger: log,
  });
  const deployments = createDeploymentService({
    store: new SqlDeploymentStore(o.database.db, { engine }),
    unitOfWork: sqlUnitOfWork(o.database, (tx) => ({ deployments: new SqlDeploymentStore(tx, { engine }), audit: o.audit.recorderIn(tx) })),
    catalog: repositoryCatalog(o.repository),
    groups: fleetGroupDirectory(o.fleet),
    referenceValues: fleetReferenceValues(o.fleet),
    evidence: fleetEvidenceCheck(o.fleet),
    instructor: director,
    clock: o.clock,
    ...(o.tickIntervalMs !== undefined ? { tickIntervalMs: o.tickIntervalMs } : {}),
    onTickError: (err, id) => log.warn({ deploymentId: id, err: errorMessage(err) }, 'deployment tick failed; retried on the next'),
  });
  deployments.start();
  return {
    deployments, director,
    onDeviceStatus(deviceId, payload) {
      let status;
      try {
        status = decodeUpdateStatus(payload);
      } catch (err) {
        log.warn({ deviceId, err: errorMessage(err) }, 'ignored a malformed update status');
        return;
      }
      deployments.onDeviceStatus(deviceId, status).then((outcome) => {
        if (!outcome.accepted) log.info({ deviceId, deploymentId: status.deploymentId, reason: outcome.reason }, 'update status not applied');
      }, (err: unknown) => log.warn({ deviceId, err: errorMessage(err) }, 'update status could not be recorded'));
    },
    onDeviceSubscribed(deviceId) {
      director.resend(deviceId).catch((err: unknown) => log.warn({ deviceId, err: errorMessage(err) }, 'could not re-send the latest instruction'));
    },
    stop() {
      deployments.stop();
    },
  };
}
