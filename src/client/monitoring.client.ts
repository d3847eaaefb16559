/**
 * The monitoring part of the typed client: monitors and their reports, reference profiles,
 * feedback, alerts, silences, channels and cost (/api/capstan/monitors|alerts|cost/...).
 * CapstanClient extends this class and supplies the transport.
 */
import { ServingClient } from './serving.client.js';

const MONITORS = '/api/capstan/monitors';
const ALERTS = '/api/capstan/alerts';
const COST = '/api/capstan/cost';

export interface WireMonitor {
  name: string;
  spec: Record<string, any>;
  next_run_time: number;
  created_time: number;
  updated_time: number;
  updated_by: string;
}

export interface WireFinding {
  rule: string;
  severity: 'P1' | 'P2' | 'P3';
  summary: string;
  value: number | null;
}

export interface WireMonitorRun {
  run_id?: number;
  status: string;
  mode: string;
  rows: number;
  window_start: number;
  window_end: number;
  findings?: WireFinding[];
  summary?: { findings: WireFinding[] };
}

export interface WireAlert {
  alert_id: number;
  fingerprint: string;
  rule: string;
  severity: string;
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  summary: string;
  state: Record<string, unknown>;
  updated_time: number;
}

export abstract class MonitoringClient extends ServingClient {
  async applyMonitor(yaml: string): Promise<WireMonitor> {
    return (await this.call<{ monitor: WireMonitor }>('POST', `${MONITORS}/apply`, { yaml })).monitor;
  }

  async listMonitors(): Promise<WireMonitor[]> {
    return (await this.call<{ monitors: WireMonitor[] }>('GET', `${MONITORS}/list`)).monitors;
  }

  async getMonitor(name: string): Promise<{ monitor: WireMonitor; runs: Record<string, unknown>[] }> {
    return this.call('GET', `${MONITORS}/get`, undefined, { name });
  }

  async deleteMonitor(name: string): Promise<void> {
    await this.call('DELETE', `${MONITORS}/delete`, undefined, { name });
  }

  async runMonitor(name: string): Promise<WireMonitorRun> {
    return (await this.call<{ run: WireMonitorRun }>('POST', `${MONITORS}/run`, { name })).run;
  }

  async monitorRuns(name: string, maxResults?: number): Promise<WireMonitorRun[]> {
    return (await this.call<{ runs: WireMonitorRun[] }>('GET', `${MONITORS}/runs`, undefined, { name, max_results: maxResults?.toString() })).runs;
  }

  /** The latest (or a given) run's report: JSON, or the HTML page's text. */
  async monitorReport(name: string, opts: { runId?: number; format?: 'json' | 'html' } = {}): Promise<{ run_id?: number; report?: Record<string, any>; text?: string }> {
    return this.call('GET', `${MONITORS}/report`, undefined, { name, run_id: opts.runId?.toString(), format: opts.format });
  }

  /** A report over a deployment's last `window` without a monitor: JSON, or the HTML page's text. */
  async deploymentReport(deployment: string, window: string, format: 'json' | 'html' = 'json'): Promise<{ report?: Record<string, any>; text?: string }> {
    return this.call('GET', `${MONITORS}/deployment-report`, undefined, { deployment, window, format });
  }

  async createProfile(req: { model: string; version: number; csv?: string; dataset?: string; dataset_version?: number; dataset_path?: string; label_column?: string; types?: string; predict?: boolean; deployment?: string; window?: string }): Promise<Record<string, any>> {
    return (await this.call<{ profile: Record<string, any> }>('POST', `${MONITORS}/profiles/create`, req)).profile;
  }

  async getProfile(model: string, version: number): Promise<Record<string, any>> {
    return (await this.call<{ profile: Record<string, any> }>('GET', `${MONITORS}/profiles/get`, undefined, { model, version: String(version) })).profile;
  }

  async sendFeedback(deployment: string, labels: { request_id: string; label: unknown }[]): Promise<number> {
    return (await this.call<{ stored: number }>('POST', `${MONITORS}/feedback`, { deployment, labels })).stored;
  }

  async listAlerts(status?: 'firing' | 'resolved'): Promise<WireAlert[]> {
    return (await this.call<{ alerts: WireAlert[] }>('GET', `${ALERTS}/list`, undefined, { status })).alerts;
  }

  async getAlert(alertId: number): Promise<{ alert: WireAlert; events: { time: number; kind: string; detail: unknown }[] }> {
    return this.call('GET', `${ALERTS}/get`, undefined, { alert_id: String(alertId) });
  }

  async createSilence(matchers: { label: string; value: string; is_regex?: boolean; is_equal?: boolean }[], duration: string, comment: string): Promise<number> {
    return (await this.call<{ silence_id: number }>('POST', `${ALERTS}/silences/create`, { matchers, duration, comment })).silence_id;
  }

  async listSilences(): Promise<Record<string, unknown>[]> {
    return (await this.call<{ silences: Record<string, unknown>[] }>('GET', `${ALERTS}/silences/list`)).silences;
  }

  async expireSilence(silenceId: number): Promise<void> {
    await this.call('POST', `${ALERTS}/silences/expire`, { silence_id: silenceId });
  }

  async putChannel(c: { name: string; kind: 'webhook' | 'slack'; url: string; min_severity?: string; secret_name?: string }): Promise<void> {
    await this.call('POST', `${ALERTS}/channels/put`, c);
  }

  async listChannels(): Promise<Record<string, unknown>[]> {
    return (await this.call<{ channels: Record<string, unknown>[] }>('GET', `${ALERTS}/channels/list`)).channels;
  }

  async deleteChannel(name: string): Promise<void> {
    await this.call('DELETE', `${ALERTS}/channels/delete`, undefined, { name });
  }

  async costReport(start?: number, end?: number): Promise<Record<string, any>> {
    return (await this.call<{ cost: Record<string, any> }>('GET', `${COST}/report`, undefined, { start: start?.toString(), end: end?.toString() })).cost;
  }

  async idleDeployments(days?: number): Promise<Record<string, any>[]> {
    return (await this.call<{ idle: Record<string, any>[] }>('GET', `${COST}/idle`, undefined, { days: days?.toString() })).idle;
  }

  async getBudget(): Promise<Record<string, any>> {
    return (await this.call<{ budget: Record<string, any> }>('GET', `${COST}/budget`)).budget;
  }

  async setBudget(monthlyLimit: number | null): Promise<Record<string, any>> {
    return (await this.call<{ budget: Record<string, any> }>('POST', `${COST}/budget`, { monthly_limit: monthlyLimit })).budget;
  }
}
