/**
 * The TUF image repositories over HTTP.
 *
 * Served to clients (TUF §5: what an updater fetches), read-only:
 *   GET /tuf/:product/:stream/metadata/:file   `<n>.root.json`, `<n>.targets.json`, `<n>.snapshot.json`, `timestamp.json`
 *   GET /tuf/:product/:stream/targets/<sha256>.<name>  (consistent snapshots, TUF §6.2), streamed
 * A person or automation reads them with a token or session; a guardian with its operational
 * certificate as its TLS client certificate (checked against the site CA by TLS, then against the
 * fleet's certificate ledger: claimed, issued by us, not revoked, not expired).
 *
 * Managed by release engineers, audited:
 *   POST /updates/repositories                              {product, stream, root}         admin
 *   GET  /updates/repositories, /updates/repositories/:product/:stream
 *   POST /updates/repositories/:product/:stream/targets     {targets, files: [{name, content (base64)}]}   admin or engineer
 *   POST /updates/repositories/:product/:stream/root        {root}                          admin
 *   GET  /updates/online-keys, POST /updates/online-keys/rotate                           (rotate: admin)
 * Metadata arrives already signed (the offline keys never reach the server); bundles arrive in the
 * same JSON body, base64, under a raised body limit for that one route.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import type { AuditLog } from '../audit/audit-log.ts';
import { peerIdentity } from '../broker/peer-identity.ts';
import type { ImageRepository, RepositoryDetail } from '../updates/image-repository.ts';
import type { ProposedOnlineKeys } from '../updates/online-keys.ts';
import { ApiError } from './api-error.ts';
import { actorOf, requireRole, WRITER_ROLES } from './bearer-auth.ts';
import { ErrorResponse } from './schemas.ts';

export interface UpdateRepositoryApi {
  repository: ImageRepository;
  /** Proposes a new pair of online keys for the next roots (the old ones keep signing until no root names them). */
  rotateOnlineKeys?: () => ProposedOnlineKeys;
  /** The fleet's check of a guardian's operational certificate (claim state, ledger, revocation); without it only tokens and sessions read /tuf. */
  isDeviceAllowed?: (deviceId: string, certSerial: string) => boolean | Promise<boolean>;
}

/** Raw bundle bytes a targets upload may carry in total (base64 adds a third on the wire). */
export const MAX_TARGET_UPLOAD_BYTES = 48 * 1024 * 1024;
const TARGETS_BODY_LIMIT = Math.ceil((MAX_TARGET_UPLOAD_BYTES * 4) / 3) + 1024 * 1024;

const METADATA_ROUTE = '/tuf/:product/:stream/metadata/:file';
// A wildcard, not a parameter: `<sha256>.<name>` outgrows the router's 100-character limit on parameters.
const TARGET_ROUTE = '/tuf/:product/:stream/targets/*';

/** The route patterns a guardian may GET with its certificate (exact patterns, as the bearer hook matches them). */
export function tufPeerRoutes(apiPrefix: string): string[] {
  return [`${apiPrefix}${METADATA_ROUTE}`, `${apiPrefix}${TARGET_ROUTE}`];
}

/**
 * Is the TLS client certificate an operational certificate the fleet issued to a device in good
 * standing? node:tls has checked the chain to the site CA and its validity period (the API
 * listener asks for a certificate but does not require one); peerIdentity reads the device id
 * and policy of a verified peer only; the fleet answers for the claim, the ledger and revocation.
 */
export function operationalCertificateCheck(
  isDeviceAllowed: (deviceId: string, certSerial: string) => boolean | Promise<boolean>,
): (request: FastifyRequest) => Promise<boolean> {
  return async (request) => {
    const peer = peerIdentity(request.raw.socket);
    return peer !== undefined && peer.operational && await isDeviceAllowed(peer.deviceId, peer.certSerial);
  };
}

const Stream = Type.Union([Type.Literal('platform'), Type.Literal('application')]);
const Product = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' });
const RepoParams = Type.Object({ product: Type.String({ maxLength: 64 }), stream: Type.String({ maxLength: 32 }) });
const FileParams = Type.Object({ product: Type.String({ maxLength: 64 }), stream: Type.String({ maxLength: 32 }), file: Type.String({ maxLength: 300 }) });
const TargetParams = Type.Object({ product: Type.String({ maxLength: 64 }), stream: Type.String({ maxLength: 32 }), '*': Type.String({ maxLength: 300 }) });
const SignedMetadata = Type.Object({
  signed: Type.Record(Type.String(), Type.Unknown()),
  signatures: Type.Array(Type.Object({ keyid: Type.String(), sig: Type.String() }, { additionalProperties: true }), { maxItems: 64 }),
}, { additionalProperties: true, description: 'TUF metadata, signed offline ({signed, signatures})' });

const TufKey = Type.Object({
  keyid: Type.String(),
  key: Type.Object({ keytype: Type.String(), scheme: Type.String(), keyval: Type.Object({ public: Type.String() }) }),
});
const OnlineKeys = Type.Object({ snapshot: TufKey, timestamp: TufKey }, { description: 'The keys a new root must name for snapshot and timestamp' });
const Role = Type.Object({
  keyids: Type.Array(Type.String()), threshold: Type.Integer(),
  version: Type.Union([Type.Integer(), Type.Null()]), expires: Type.Union([Type.String(), Type.Null()]),
});
const Roles = Type.Object({ root: Role, targets: Role, snapshot: Role, timestamp: Role });
const Summary = {
  product: Type.String(), stream: Type.String(), createdAt: Type.Integer(), roles: Roles,
  targetsTrusted: Type.Boolean({ description: 'False when the newest targets no longer verify under the newest root: sign targets again' }),
};
const Target = Type.Object({
  name: Type.String(), length: Type.Integer(), sha256: Type.String(),
  custom: Type.Object({
    product: Type.String(), stream: Type.String(), version: Type.String(), platform: Type.String(), nodeAbi: Type.String(),
    components: Type.Array(Type.Object({ component: Type.String(), digest: Type.String() })),
  }, { description: 'The release\'s BundleManifest' }),
});
const Detail = Type.Object({ ...Summary, onlineKeys: OnlineKeys, targets: Type.Array(Target) });
const DetailResponse = Type.Object({ repository: Detail });

const readErrors = { 400: ErrorResponse, 401: ErrorResponse, 404: ErrorResponse };
const writeErrors = { ...readErrors, 403: ErrorResponse, 409: ErrorResponse, 413: ErrorResponse };
const adminOnly = requireRole(['admin']);
const writers = requireRole(WRITER_ROLES);

const repoTarget = (product: string, stream: string) => `tuf:${product}/${stream}`;
const versionsOf = (d: RepositoryDetail) => Object.fromEntries(Object.entries(d.roles).map(([role, r]) => [role, r.version]));

export const updateRepositoryRoutes: FastifyPluginAsyncTypebox<{ updates: UpdateRepositoryApi; audit: AuditLog }> = async (app, { updates, audit }) => {
  const { repository } = updates;

  app.get(METADATA_ROUTE, {
    schema: {
      tags: ['updates'], summary: 'TUF metadata of an image repository: <n>.root.json, <n>.targets.json, <n>.snapshot.json, timestamp.json',
      // No response schema: the body is the stored JSON text, sent byte for byte (its hashes are in the snapshot).
      params: FileParams,
    },
  }, async (req, reply) => {
    const { product, stream, file } = req.params;
    const text = await repository.metadataFile(product, stream, file);
    if (text === undefined) throw new ApiError('not_found', `no metadata ${file} in ${product}/${stream}`);
    // Metadata changes under the same name (timestamp.json, and unversioned names): never cached.
    return reply.header('cache-control', 'no-store').type('application/json').send(text);
  });

  app.get(TARGET_ROUTE, {
    schema: { tags: ['updates'], summary: 'A target file by its consistent path <sha256>.<name>, streamed', params: TargetParams },
  }, async (req, reply) => {
    const { product, stream, '*': file } = req.params;
    const blob = await repository.targetFile(product, stream, file);
    if (!blob) throw new ApiError('not_found', `no target ${file} in ${product}/${stream}`);
    return reply.header('content-length', blob.length).type('application/octet-stream').send(blob.stream);
  });

  app.get('/updates/online-keys', {
    schema: { tags: ['updates'], summary: 'The online snapshot and timestamp keys a new root must name', response: { 200: Type.Object({ onlineKeys: OnlineKeys }), ...readErrors } },
  }, async () => ({ onlineKeys: repository.onlineKeys() }));

  if (updates.rotateOnlineKeys) {
    const rotate = updates.rotateOnlineKeys;
    app.post('/updates/online-keys/rotate', {
      onRequest: adminOnly,
      schema: {
        tags: ['updates'], summary: 'Propose a new pair of online keys; sign new roots naming them (shellguard release rotate-root) to put them to use',
        response: { 200: Type.Object({ onlineKeys: OnlineKeys }), ...writeErrors },
      },
    }, async (req) => {
      const onlineKeys = rotate();
      await audit.record({
        actor: actorOf(req), action: 'update.online_keys.rotate', target: 'tuf:online-keys',
        detail: { snapshot: onlineKeys.snapshot.keyid, timestamp: onlineKeys.timestamp.keyid },
      });
      return { onlineKeys };
    });
  }

  app.get('/updates/repositories', {
    schema: { tags: ['updates'], summary: 'The image repositories, their roles, versions and expiries', response: { 200: Type.Object({ repositories: Type.Array(Type.Object(Summary)) }), ...readErrors } },
  }, async () => ({ repositories: await repository.repositories() }));

  app.post('/updates/repositories', {
    onRequest: adminOnly,
    schema: {
      tags: ['updates'], summary: 'Create the image repository of a product and stream from its 1.root.json, signed offline',
      body: Type.Object({ product: Product, stream: Stream, root: SignedMetadata }), response: { 201: DetailResponse, ...writeErrors },
    },
  }, async (req, reply) => {
    const detail = await repository.initialise(req.body.product, req.body.stream, req.body.root);
    await audit.record({
      actor: actorOf(req), action: 'update.repository.init', target: repoTarget(detail.product, detail.stream),
      detail: { root: detail.roles.root.keyids, rootThreshold: detail.roles.root.threshold, targets: detail.roles.targets.keyids, targetsThreshold: detail.roles.targets.threshold },
    });
    return reply.code(201).send({ repository: detail });
  });

  app.get('/updates/repositories/:product/:stream', {
    schema: { tags: ['updates'], summary: 'One image repository: online keys, versions, expiries and its targets with their manifests', params: RepoParams, response: { 200: DetailResponse, ...readErrors } },
  }, async (req) => ({ repository: await repository.describe(req.params.product, req.params.stream) }));

  app.post('/updates/repositories/:product/:stream/targets', {
    onRequest: writers,
    bodyLimit: TARGETS_BODY_LIMIT,
    schema: {
      tags: ['updates'],
      summary: 'Publish targets metadata signed offline, with the files of new or changed targets (base64); a new snapshot and timestamp follow',
      params: RepoParams,
      body: Type.Object({
        targets: SignedMetadata,
        files: Type.Array(Type.Object({ name: Type.String({ maxLength: 200 }), content: Type.String({ description: 'base64' }) }), { maxItems: 32 }),
      }),
      response: { 200: DetailResponse, ...writeErrors },
    },
  }, async (req) => {
    const files = req.body.files.map((f) => ({ name: f.name, bytes: Buffer.from(f.content, 'base64') }));
    const total = files.reduce((n, f) => n + f.bytes.length, 0);
    if (total > MAX_TARGET_UPLOAD_BYTES) throw new ApiError('bad_request', `the files hold ${total} bytes; at most ${MAX_TARGET_UPLOAD_BYTES} per upload: publish fewer at a time`);
    const detail = await repository.acceptTargets(req.params.product, req.params.stream, req.body.targets, files);
    await audit.record({
      actor: actorOf(req), action: 'update.targets.publish', target: repoTarget(detail.product, detail.stream),
      detail: { versions: versionsOf(detail), uploaded: files.map((f) => f.name), targets: detail.targets.map((t) => ({ name: t.name, sha256: t.sha256, version: t.custom.version })) },
    });
    return { repository: detail };
  });

  app.post('/updates/repositories/:product/:stream/root', {
    onRequest: adminOnly,
    schema: {
      tags: ['updates'], summary: 'Rotate the root: the next version, signed by a threshold of the trusted root keys and of its own (TUF §5.3.4)',
      params: RepoParams, body: Type.Object({ root: SignedMetadata }), response: { 200: DetailResponse, ...writeErrors },
    },
  }, async (req) => {
    const detail = await repository.rotateRoot(req.params.product, req.params.stream, req.body.root);
    await audit.record({
      actor: actorOf(req), action: 'update.root.rotate', target: repoTarget(detail.product, detail.stream),
      detail: { versions: versionsOf(detail), root: detail.roles.root.keyids, targets: detail.roles.targets.keyids, snapshot: detail.roles.snapshot.keyids, timestamp: detail.roles.timestamp.keyids },
    });
    return { repository: detail };
  });
};
