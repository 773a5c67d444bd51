/**
 * A simulated guardian for fleet-scale update tests: everything a real guardian does for an
 * update, with the real code — its identity key, A/B slots on disk, the updater, the TUF client
 * over HTTPS with its operational certificate, attestation with measurements taken from the
 * installed slot, its outbox and MQTT uplink — but no equipment polling, so 200 of them fit in one
 * test process. "Starting the software" means what the real guardian's start depends on from the
 * slot: the equipment profiles its configuration names must be in the installed bundle
 * (startGuardian fails with profile_unknown otherwise).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import {
  EnrolmentRefused, FileKeyStore, GUARDIAN_SWNAME, HttpsFetcher, Outbox, SlotStore, TufImageSource, Updater, Uplink, digestFile, digestFileSet,
  digestTrees, enrol, extractBundleArchive, healthProbe, initialSlotState, loadProfileCatalog, parseBundleManifest, type MetadataFetcher, type UpdaterOptions,
} from '@shellguard/guardian';
import { Quality, encodeUpdateStatus, type AssetBirth, type Measurement, type UpdateStatus } from '@shellguard/protocol';

export interface SimSite {
  apiUrl: string;
  mqttUrl: string;
  rootPem: string;
  site: string;
}

export interface SimGuardianOptions {
  site: SimSite;
  dir: string;
  /** Profile ids of the equipment this guardian's configuration names. */
  profiles: string[];
  /** The bundle installed in slot a at "factory install", and its version. */
  initialBundle: Buffer;
  initialVersion: string;
  /** `<product>.<stream>.root.json` files shipped with the install. */
  trustedRoots: Record<string, string>;
  /** Milliseconds between health check polls (fast in tests). */
  healthPollMs?: number;
  /** Called as the updater reaches each phase of an install (the kill -9 test stops the process here). */
  onPhase?: UpdaterOptions['onPhase'];
  /** Adds what the guardian receives from the image repository and the director (benchmarks). */
  bytes?: { tuf: number; control: number; requests: number };
}

let runtimeDigest: Promise<string> | undefined;

/** The TUF client's fetcher, counting the bytes of every response body into `bytes.tuf`. */
function countingFetcher(inner: MetadataFetcher, bytes: SimGuardianOptions['bytes']): MetadataFetcher {
  if (!bytes) return inner;
  return {
    async fetch(url, maxLength) {
      bytes.requests++;
      const body = await inner.fetch(url, maxLength);
      bytes.tuf += body.length;
      return body;
    },
    async *fetchChunks(url, maxLength) {
      bytes.requests++;
      for await (const chunk of inner.fetchChunks(url, maxLength)) {
        bytes.tuf += chunk.length;
        yield chunk;
      }
    },
  };
}
const quiet = pino({ level: process.env.SG_SIM_LOG ?? 'silent' });

export class SimulatedGuardian {
  readonly dataDir: string;
  readonly installDir: string;
  readonly slots: SlotStore;
  keys!: FileKeyStore;
  /** What it reported, in order (the truth per device as the device saw it). */
  readonly statuses: UpdateStatus[] = [];
  boots = 0;
  crashes = 0;
  private uplink: Uplink | undefined;
  private outbox: Outbox | undefined;
  private updater: Updater | undefined;
  private certPem: string | undefined;
  private restarting: Promise<void> | undefined;
  private stopped = false;
  private bootcount = 0;
  /** Resolves whenever a boot ends (up and running, or rolled back and booted again). */
  private readonly configFile: string;

  constructor(private readonly o: SimGuardianOptions) {
    this.dataDir = path.join(o.dir, 'data');
    this.installDir = path.join(o.dir, 'install');
    this.slots = new SlotStore(this.dataDir, path.join(this.installDir, 'slots'));
    this.configFile = path.join(o.dir, 'guardian.yaml');
  }

  get deviceId(): string {
    return this.keys.deviceId;
  }

  /** An installed guardian's identity (after install(), e.g. in a process started again). */
  async open(): Promise<void> {
    this.keys = await FileKeyStore.open(this.dataDir);
  }

  /** The install script's part: identity, slot a, the slot state, the trusted roots. */
  async install(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    mkdirSync(path.join(this.installDir, 'slots'), { recursive: true });
    this.keys = await FileKeyStore.open(this.dataDir);
    extractBundleArchive(this.o.initialBundle, this.slots.slotDir('application', 'a'));
    this.slots.write(initialSlotState({ application: this.o.initialVersion, platform: '1.0.0' }));
    const roots = path.join(this.o.dir, 'tuf-roots');
    mkdirSync(roots, { recursive: true });
    for (const [name, content] of Object.entries(this.o.trustedRoots)) writeFileSync(path.join(roots, name), content);
    writeFileSync(this.configFile, `site: ${this.o.site.site}\nequipment: [${this.o.profiles.join(', ')}]\n`);
  }

  /** Measurements of what is installed in the active slot, as the real guardian takes them. */
  async measure(): Promise<Measurement[]> {
    runtimeDigest ??= digestFile(process.execPath);
    const s = this.slots.read().streams.application;
    const slotDir = this.slots.slotDir('application', s.active);
    const catalog = loadProfileCatalog(path.join(slotDir, 'profiles'));
    // A profile missing from the slot is measured as missing (start() refuses to run without it).
    const files = this.o.profiles.map((id) => catalog.get(id)?.file).filter((f): f is string => f !== undefined);
    return [
      { component: 'runtime', digest: await runtimeDigest },
      { component: 'guardian-bundle', digest: await digestTrees([slotDir]) },
      { component: 'config', digest: await digestFile(this.configFile) },
      { component: 'profiles', digest: await digestFileSet(files) },
    ];
  }

  runningVersion(): string {
    const s = this.slots.read().streams.application;
    return s.versions?.[s.active] ?? 'unknown';
  }

  /**
   * One start of the guardian, as systemd and the launcher do it: count a trial boot (or abandon
   * it), "load" the software from the active slot, attest, connect, and health-check a trial.
   * A start that fails is a crash: the service manager starts it again.
   */
  async boot(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      this.boots++;
      this.slots.bootSelect(Date.now());
      try {
        await this.start();
        return;
      } catch (err) {
        await this.shutdown();
        if (err instanceof EnrolmentRefused && this.slots.read().streams.application.trial !== null) {
          this.slots.rollBack('application', `attestation refused: ${err.message}`, Date.now());
        }
        this.crashes++;
        if (this.crashes > 20) throw new Error(`guardian ${this.o.dir} keeps crashing: ${(err as Error).message}`);
      }
    }
  }

  private async start(): Promise<void> {
    const active = this.slots.slotDir('application', this.slots.read().streams.application.active);
    const catalog = loadProfileCatalog(path.join(active, 'profiles'));
    for (const id of this.o.profiles) {
      if (!catalog.has(id)) throw new Error(`profile_unknown: equipment names profile "${id}", which is not installed`);
    }
    const measurements = await this.measure();
    const version = this.runningVersion();
    const { site } = this.o;
    const enrolment = await enrol({
      apiUrl: site.apiUrl, rootCaPem: site.rootPem, keyStore: this.keys, measurements, swname: GUARDIAN_SWNAME, swversion: version,
      bootcount: ++this.bootcount, now: Date.now,
    });
    this.certPem = enrolment.certificatePem;
    this.outbox = new Outbox(path.join(this.dataDir, 'queue.sqlite'));
    const images = new TufImageSource({
      apiUrl: site.apiUrl, metadataRoot: path.join(this.dataDir, 'tuf'), trustedRootsDir: path.join(this.o.dir, 'tuf-roots'),
      fetcher: countingFetcher(new HttpsFetcher({ ca: site.rootPem, cert: this.certPem, key: this.keys.tlsPrivateKeyPem() }), this.o.bytes),
    });
    const updater = new Updater({
      deviceId: this.deviceId, slots: this.slots, images, rootCaPem: site.rootPem, workDir: path.join(this.dataDir, 'updates'),
      platform: { platform: `${process.platform}-${process.arch}`, nodeAbi: process.versions.modules },
      report: (s) => {
        this.statuses.push({ v: 1, ...s });
        const payload = encodeUpdateStatus(s);
        if (this.o.bytes) this.o.bytes.control += payload.length;
        this.uplink?.publishUpdateStatus(s.deploymentId, payload);
      },
      restart: () => { this.restart(); },
      unpack: (file, dir) => {
        extractBundleArchive(readFileSync(file), dir);
        return Promise.resolve(parseBundleManifest(JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'))));
      },
      logger: quiet,
      ...(this.o.onPhase ? { onPhase: this.o.onPhase } : {}),
    });
    this.updater = updater;
    this.uplink = new Uplink({
      url: site.mqttUrl, deviceId: this.deviceId, site: site.site, version,
      tls: { caPem: site.rootPem, certPem: this.certPem, keyPem: this.keys.tlsPrivateKeyPem() },
      outbox: this.outbox, assets: [this.asset()], logger: quiet, resendAfterMs: 2_000,
      onUpdateInstruction: (payload) => {
        if (this.o.bytes) this.o.bytes.control += payload.length;
        void updater.onInstruction(payload).catch(() => undefined);
      },
    });
    this.uplink.start();
    // Telemetry: one reading, acknowledged by the server once stored.
    this.outbox.enqueue(this.asset().asset, [{ point: 'boots', ts: Date.now(), value: this.boots, quality: Quality.good }], Date.now());
    this.uplink.pump();
    const uplink = this.uplink;
    void updater.afterBoot(healthProbe({
      attestedCurrent: () => true, // start() attested exactly these measurements, or it would have thrown
      reattest: () => Promise.resolve(),
      storedBatches: () => uplink.stats().acknowledgedBatches,
    }, Date.now, this.o.healthPollMs ?? 200));
  }

  /** The one asset it "reads": a counter of its boots. */
  private asset(): AssetBirth {
    return {
      asset: `SIM-${this.deviceId.slice(0, 12)}`, name: 'update test gateway', type: 'gateway', area: 'hall-1', profile: 'sim-gateway',
      points: [{ name: 'boots', unit: '', kind: 'analog', description: 'starts of the guardian' }],
    };
  }

  /** The updater asked for a restart: stop, then start again (the launcher picks the slot). */
  private restart(): void {
    if (this.restarting) return;
    this.restarting = (async () => {
      await new Promise((r) => setImmediate(r));
      await this.shutdown();
      this.restarting = undefined;
      await this.boot();
    })().catch(() => undefined);
  }

  private async shutdown(): Promise<void> {
    const uplink = this.uplink;
    this.uplink = undefined;
    await uplink?.stop().catch(() => undefined);
    this.outbox?.close();
    this.outbox = undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.restarting;
    await this.shutdown();
  }
}
