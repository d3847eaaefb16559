import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/index.js';
import type { RouteDef } from '../server/route.js';
import type { Db } from '../store/sql/index.js';
import { AlertManager, type SecretResolver } from './alert-manager.js';
import { alertingRoutes } from './alerting.routes.js';
import { AlertsSql } from './alerts.sql.js';
import { CostService } from './cost.service.js';
import type { DeploymentInfo } from './cost.js';
import { registerMonitoringMetrics } from './monitoring-metrics.js';
import { monitoringRoutes } from './monitoring.routes.js';
import { MonitoringService, type MonitoringOptions } from './monitoring.service.js';
import { MonitoringSql } from './monitoring.sql.js';
import { MonitorScheduler } from './scheduler.js';
import { UsageSql } from './usage.sql.js';

export interface MonitoringDeps {
  config: Config;
  db: Db;
  logger: Logger;
  metrics: Registry;
  secrets: SecretResolver;
  projectName: (projectId: number) => Promise<string>;
  /** The version a deployment serves most traffic with (the default reference of its monitors). */
  servedVersion: (projectId: number, deployment: string) => { model: string; version: number } | null;
  predictRows: NonNullable<MonitoringOptions['predictRows']>;
  readDataset: NonNullable<MonitoringOptions['readDataset']>;
  deployments: (projectId: number) => Promise<DeploymentInfo[]>;
  /** Writes what serving has buffered (prediction log, usage counts) so a run sees it. */
  flush: () => Promise<void>;
  usesGpu: boolean;
}

export interface Monitoring {
  routes: RouteDef[];
  service: MonitoringService;
  scheduler: MonitorScheduler;
  /** Alerts that started firing after an event id (pipeline alert triggers). */
  firedSince: AlertsSql['firedSince'];
  start(): void;
  close(): Promise<void>;
}

export function createMonitoring(deps: MonitoringDeps): Monitoring {
  const { config, db, logger } = deps;
  const publicUrl = config['monitoring.public_url'] || `http://${config['server.host']}:${config['server.port']}`;
  const sql = new MonitoringSql(db);
  const usage = new UsageSql(db);
  const alertsSql = new AlertsSql(db);
  const alerts = new AlertManager(alertsSql, deps.secrets, logger);
  const service = new MonitoringService(sql, usage, alerts, { exactMaxRows: config['monitoring.exact_max_rows'], publicUrl, servedVersion: deps.servedVersion, predictRows: deps.predictRows, readDataset: deps.readDataset, projectName: deps.projectName });
  const cost = new CostService(usage, alertsSql, alerts, {
    card: { currency: config['cost.currency'], cpuHour: config['cost.cpu_hour'], gpuHour: config['cost.gpu_hour'], gpu: deps.usesGpu },
    idleDays: config['cost.idle_days'], deployments: deps.deployments, projectName: deps.projectName, publicUrl, logger,
  });
  registerMonitoringMetrics(deps.metrics, sql, deps.projectName);
  let prunedAt = 0;
  const scheduler = new MonitorScheduler(sql, {
    runMonitor: async (m) => {
      await deps.flush();
      return service.run(m);
    },
    other: async (now) => {
      await cost.checkBudgets(now);
      if (now - prunedAt < 3_600_000) return;
      prunedAt = now;
      await sql.prune(now - config['monitoring.retention_days'] * 86_400_000);
    },
  }, logger, config['monitoring.tick_ms']);
  return {
    routes: [...monitoringRoutes(service, deps.flush), ...alertingRoutes(alertsSql, alerts, cost)],
    service, scheduler,
    firedSince: (projectId, after, limit) => alertsSql.firedSince(projectId, after, limit),
    start: () => scheduler.start(),
    close: () => scheduler.stop(),
  };
}
