export { createMonitoring, type Monitoring, type MonitoringDeps } from './monitoring.wiring.js';
export { parseMonitorSpec, type MonitorSpec } from './monitor-spec.js';
export { driftReport, parseTypes } from './stats/report.js';
