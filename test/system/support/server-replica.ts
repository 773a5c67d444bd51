/**
 * One `shellguard server --config <file>` replica as a child process: started, killed with
 * SIGKILL and started again on the same configuration (same dataDir and API port), its health
 * read over HTTPS with the admin token.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { CliProcess } from './cli-process.ts';
import { getJson } from './https-json.ts';

export interface ReplicaRole {
  role: 'active' | 'standby';
  id: string;
}

/** The ingest object of GET /api/v1/health (the fields these tests read). */
export interface ReplicaIngest {
  batchesStored: number;
  batchesDuplicate: number;
  batchesConflicting?: number;
  samplesStored?: number;
  storeFailures: number;
  rejected: Record<string, number>;
  replica?: ReplicaRole;
  [field: string]: unknown;
}

export class ServerReplica {
  readonly name: string;
  readonly dataDir: string;
  readonly configFile: string;
  readonly apiPort: number;
  readonly logFile: string;
  process: CliProcess | undefined;
  /** Processes of earlier runs (killed), for their logs. */
  readonly earlier: CliProcess[] = [];

  /** Writes `config` (server.yaml fields; api.port must be fixed) to `<work>/<name>.yaml`. */
  constructor(name: string, work: string, config: Record<string, unknown> & { dataDir: string; api: { host: string; port: number } }) {
    this.name = name;
    this.dataDir = config.dataDir;
    this.apiPort = config.api.port;
    this.configFile = path.join(work, `${name}.yaml`);
    this.logFile = path.join(work, `${name}.log`);
    writeFileSync(this.configFile, toYaml(config));
  }

  get apiUrl(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** Starts the replica; resolves with the admin token it printed (a fresh database only) once its API listens. */
  async start(timeoutMs = 90_000): Promise<string | undefined> {
    if (this.process) this.earlier.push(this.process);
    const p = new CliProcess(this.name, ['server', '--config', this.configFile], { logFile: this.logFile });
    this.process = p;
    await p.waitForLine(/^API https:\/\//, timeoutMs);
    // Printed before the API line when the database was new; nothing else prints it.
    return p.waitForLine(/^admin API token \(shown once, store it now\): (\S+)$/, 0).then((m) => m[1], () => undefined);
  }

  /** kill -9: no shutdown, nothing flushed, nothing released but what the kernel closes. */
  async kill(): Promise<void> {
    await this.process?.stop('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.process?.stop('SIGTERM', 30_000);
  }

  async health(auth: { caPem: string; token: string }): Promise<ReplicaIngest> {
    const r = await getJson(`${this.apiUrl}/api/v1/health`, auth);
    if (r.status !== 200) throw new Error(`${this.name}: GET /health answered ${r.status} ${JSON.stringify(r.body)}`);
    return (r.body as { ingest: ReplicaIngest }).ingest;
  }

  output(): string {
    return this.process?.output() ?? '(not started)';
  }
}
