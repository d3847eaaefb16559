import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { accessRoutes, AuditLog, auditedDb } from '../access/index.js';
import { ArtifactService, artifactRoutes, MultipartUploads, multipartRoutes, UPLOADS_PREFIX, withPins } from '../artifacts/index.js';
import { resolveStoreUris, type Config } from '../config/index.js';
import { AppError } from '../errors/index.js';
import { createLogger } from '../observability/logger.js';
import { ServerMetrics } from '../observability/metrics.js';
import { startTracing, tracedDb } from '../observability/tracing.js';
import { openBlobStore, type BlobStore, type S3Options } from '../store/blob/index.js';
import { migrate, openDb, type Db } from '../store/sql/index.js';
import { datasetRoutes, DatasetService, Lineage } from '../datasets/index.js';
import { governanceRoutes, PolicyService, PromotionService, RegistryService, registryRoutes, SigningKeys, type SigningKeySource } from '../registry/index.js';
import { defaultArtifactLocation, TrackingReferences, LoggedModels, loggedModelRoutes, SqlTrackingStore, TrackingService, trackingRoutes } from '../tracking/index.js';
import { wireAccess, type AccessParts } from './access-wiring.js';
import { buildApp } from './app.js';
import type { RouteDef } from './route.js';
import { maintenanceRoutes } from './maintenance.routes.js';
import { systemRoutes } from './system.routes.js';
import { uiRoutes } from './ui.routes.js';
import { createServing, executionProviders, parseDeploymentSpec } from '../serving/index.js';
import { createMonitoring } from '../monitoring/index.js';
import { createPipelines, type Pipelines } from '../pipelines/index.js';
import { capstanVersion } from './version.js';

export interface Platform {
  app: FastifyInstance;
  db: Db;
  blobs: BlobStore;
  logger: Logger;
  access: AccessParts;
  audit: AuditLog;
  pipelines: Pipelines;
  /** Stops accepting work, lets in-flight requests finish, closes stores. Idempotent. */
  close(): Promise<void>;
}

/** The artifact store, with a bad URI reported as the configuration error it is. */
async function openArtifactStore(...args: Parameters<typeof openBlobStore>): Promise<BlobStore> {
  try {
    return await openBlobStore(...args);
  } catch (err) {
    if (err instanceof AppError && err.code === 'INVALID_PARAMETER_VALUE') throw new AppError('CONFIG_INVALID', `store.artifacts_uri: ${err.message}`, { cause: err });
    throw err;
  }
}

export const s3Options = (config: Config): S3Options => ({
  endpoint: config['s3.endpoint'] || undefined,
  region: config['s3.region'],
  forcePathStyle: config['s3.force_path_style'],
  accessKeyId: config['s3.access_key_id'] || undefined,
  secretAccessKey: config['s3.secret_access_key'] || undefined,
  timeoutMs: config['s3.timeout_ms'],
});

/** registry.signing_key, else registry.signing_key_file, else a key file made once in data_dir. */
export function signingKeySource(config: Config): SigningKeySource {
  return {
    pem: config['registry.signing_key'] || undefined,
    file: config['registry.signing_key_file'] || resolve(config.data_dir, 'registry-signing.pem'),
    setting: config['registry.signing_key'] ? 'registry.signing_key' : 'registry.signing_key_file',
  };
}

/** Wires every domain to its stores and the HTTP server. The only place domains meet. */
export async function createPlatform(config: Config, logger: Logger = createLogger(config['log.level'])): Promise<Platform> {
  const uris = resolveStoreUris(config);
  const tracing = startTracing(config['telemetry.traces'] as 'off' | 'console' | 'otlp', config['telemetry.otlp_endpoint']);
  const rawDb = openDb(uris.databaseUri, { poolSize: config['store.pool_size'] });
  const baseDb = tracing.tracer ? tracedDb(rawDb, tracing.tracer) : rawDb;
  const migration = await migrate(baseDb);
  // Domain stores write through `db`: a change made by a request commits with its audit event.
  const audit = new AuditLog(baseDb);
  const db = auditedDb(baseDb, audit);
  logger.info({ database: db.displayUri, schema_version: migration.current, applied: migration.applied }, 'metadata store ready');
  const blobs = await openArtifactStore(uris.artifactsUri, s3Options(config));

  const access = await wireAccess(config, db, audit, uris.databaseUri, logger);
  const trackingStore = new SqlTrackingStore(db);
  await trackingStore.ensureDefaultExperiment(defaultArtifactLocation, Date.now());
  const tracking = new TrackingService(trackingStore, { truncateLongValues: config['tracking.truncate_long_values'] });
  const keys = await SigningKeys.open(db, signingKeySource(config));
  const loggedModels = new LoggedModels(db, tracking);
  const registry = new RegistryService(db, blobs, keys, tracking, (id) => loggedModels.get(id));
  const policies = new PolicyService(db);
  // The proxy may not change files a registered version holds; the registry itself reads `blobs`.
  // Multipart staging (`_capstan_uploads/`) can never hold registered files: no lookup for its parts.
  const proxied = withPins(blobs, async (key) =>
    key.startsWith(`${UPLOADS_PREFIX}/`) ? null : ((await registry.pinHolder(key)) ?? (await datasets.pinHolder(key)) ?? null));
  const datasets = new DatasetService(db, proxied, tracking, s3Options(config));
  const promotion = new PromotionService(db, registry, policies, tracking, async (projectId, runId) =>
    (await datasets.runDatasets(projectId, runId)).map((d) => ({ name: d.name, digest: d.digest, sensitive: d.sensitive, access: d.access, rows: d.rows })));
  const artifacts = new ArtifactService(proxied);

  const metrics = new ServerMetrics();
  const serving = createServing({ config, db, registry, blobs, audit, logger, metrics: metrics.registry, serverVersion: capstanVersion() });
  const projectName = async (id: number) => (await access.service.projectById(id)).name;
  const monitoring = createMonitoring({
    config, db, logger, metrics: metrics.registry, projectName,
    secrets: (projectId, names) => access.secrets.resolveForRuntime(projectId, names),
    servedVersion: (projectId, deployment) => serving.servedVersion(projectId, deployment),
    predictRows: (projectId, model, version, rows) => serving.predictRows(projectId, model, version, rows),
    readDataset: (projectId, name, version, path) => datasets.readCsv(projectId, name, version, path),
    deployments: async (projectId) => (await serving.deployments.list(projectId)).map((d) => ({ name: d.name, createdTime: d.createdTime, tags: parseDeploymentSpec(d.spec).tags })),
    flush: () => serving.flush(),
    usesGpu: executionProviders(config).includes('cuda'),
  });
  const pipelines = createPipelines({
    config, db, logger, blobs, tracking, projectName,
    secrets: (projectId, names) => access.secrets.resolveForRuntime(projectId, names),
    dataset: (projectId, name, version) => datasets.get(projectId, name, version),
    openDatasetFile: (projectId, name, version, file) => datasets.openFile(projectId, name, version, file),
    mintToken: async (principalId, projectId, name, ttlMs) => (config['auth.mode'] === 'on' ? access.service.mintRunToken(principalId, projectId, name, ttlMs) : null),
    revokeToken: (tokenId) => access.service.revokeRunToken(tokenId),
    projectId: async (name) => (await access.service.project(name)).projectId,
    triggerSources: {
      latestDataset: async (projectId, name) => (await datasets.get(projectId, name).catch(() => null))?.version ?? null,
      aliasVersion: async (projectId, model, alias) => (await registry.versionByAlias(projectId, model, alias).catch(() => null))?.version ?? null,
      alertsSince: async (projectId, after) => (await monitoring.firedSince(projectId, after, 1000)).map((a) => ({ eventId: a.eventId, alertId: a.alertId, severity: a.severity, monitor: a.labels.monitor ?? null, summary: a.summary })),
      secret: async (projectId, name) => (await access.secrets.resolveForRuntime(projectId, [name]))[name],
    },
  });
  let draining = false;
  const routes: RouteDef[] = [];
  routes.push(
    ...systemRoutes({ version: capstanVersion(), metrics, readiness: { check: () => db.ping(), isDraining: () => draining }, allRoutes: () => routes }),
    ...uiRoutes(),
    ...trackingRoutes(tracking),
    ...artifactRoutes(artifacts, tracking),
    ...multipartRoutes(new MultipartUploads(proxied), tracking, access.signer),
    ...loggedModelRoutes(loggedModels, tracking, (uri, path) => artifacts.listRun(uri, path)),
    ...registryRoutes(registry, promotion),
    ...governanceRoutes(registry, promotion, policies),
    ...datasetRoutes(datasets, tracking, registry, new Lineage(db, registry, datasets, tracking, (p, m, v) => serving.deploymentsOf(p, m, v))),
    ...maintenanceRoutes({ blobs, registry, datasets, policies, tracking: new TrackingReferences(db), deployedIn: (id) => serving.deployedIn(id) }),
    ...serving.routes,
    ...monitoring.routes,
    ...pipelines.routes,
    ...accessRoutes(access.service, access.secrets, audit, access.sso),
  );
  const app = await buildApp({
    logger, metrics, tracer: tracing.tracer, routes, access: access.request,
    maxBodyBytes: config['server.max_body_bytes'], maxHeaderBytes: config['server.max_header_bytes'], trustProxy: config['server.trust_proxy'],
  });

  await serving.start();
  monitoring.start();
  pipelines.start();

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      draining = true;
      await app.close();
      await pipelines.close();
      await monitoring.close();
      await serving.close();
      await access.close();
      await blobs.close();
      await db.close();
      await tracing.shutdown();
    })());
  return { app, db, blobs, logger, access, audit, pipelines, close };
}
