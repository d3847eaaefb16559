/**
 * The pipelines part of the typed client: files applied by name, runs, their steps and logs
 * (/api/capstan/pipelines/...). CapstanClient extends this class and supplies the transport.
 */
import { MonitoringClient } from './monitoring.client.js';

const PIPELINES = '/api/capstan/pipelines';
const query = (o: Record<string, string | number | undefined>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));

export interface WirePipelineRun {
  run_id: string;
  pipeline: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  params: Record<string, unknown>;
  trigger: { kind: string; detail: unknown };
  runner: string;
  use_cache: boolean;
  mlflow_run_id: string;
  created_by: string;
  created_time: number;
  started_time: number | null;
  finished_time: number | null;
  message: string;
}

export interface WirePipelineStep {
  idx: number;
  step: string;
  instance: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
  attempts: number;
  mlflow_run_id: string;
  cache_key: string;
  cached_from: string | null;
  exit_code: number | null;
  message: string;
  metrics: Record<string, number>;
  outputs: Record<string, { run_id: string; artifact_path: string; files: string[]; is_dir: boolean }>;
  started_time: number | null;
  finished_time: number | null;
}

export interface WireLogLine {
  log_id: number;
  step: string;
  attempt: number;
  time: number;
  stream: 'stdout' | 'stderr' | 'system';
  line: string;
}

/** A pipeline file's steps and the dependencies between them (`conditional`: the later step has a `when`). */
export interface WirePipelineGraph {
  steps: Array<{ name: string; when: string | null }>;
  edges: Array<{ from: string; to: string; conditional: boolean }>;
}

export interface WirePipeline extends WirePipelineGraph {
  name: string;
  source: string;
  updated_time: number;
  updated_by: string;
  /** As in the file: schedule (cron, timeZone), dataset, alias, alert, webhook; each with its params. */
  triggers: Array<{ kind: string; params: Record<string, unknown>; [key: string]: unknown }>;
}

export interface StartPipelineRequest {
  yaml?: string;
  pipeline?: string;
  params?: Record<string, unknown> | string[];
  cache?: boolean;
  /** The directory holding the pipeline file; local steps get it as CAPSTAN_PIPELINE_DIR. */
  source_dir?: string;
}

export abstract class PipelinesClient extends MonitoringClient {
  async validatePipeline(yaml: string, file?: string): Promise<{ valid: boolean; name: string | null; errors: Array<{ path: string; line: number; column: number; message: string }> }> {
    return this.call('POST', `${PIPELINES}/validate`, { yaml, file });
  }

  async applyPipeline(yaml: string): Promise<{ name: string; steps: string[]; params: string[] }> {
    return (await this.call<{ pipeline: { name: string; steps: string[]; params: string[] } }>('POST', `${PIPELINES}/apply`, { yaml })).pipeline;
  }

  async listPipelines(): Promise<Array<{ name: string; updated_time: number; updated_by: string }>> {
    return (await this.call<{ pipelines: Array<{ name: string; updated_time: number; updated_by: string }> }>('GET', `${PIPELINES}/list`)).pipelines;
  }

  async getPipeline(name: string): Promise<WirePipeline> {
    return (await this.call<{ pipeline: WirePipeline }>('GET', `${PIPELINES}/get`, undefined, { name })).pipeline;
  }

  async deletePipeline(name: string): Promise<void> {
    await this.call('DELETE', `${PIPELINES}/delete`, undefined, { name });
  }

  async startPipelineRun(req: StartPipelineRequest): Promise<WirePipelineRun> {
    return (await this.call<{ run: WirePipelineRun }>('POST', `${PIPELINES}/runs/create`, req)).run;
  }

  async listPipelineRuns(filter: { pipeline?: string; status?: string; max_results?: number } = {}): Promise<WirePipelineRun[]> {
    return (await this.call<{ runs: WirePipelineRun[] }>('GET', `${PIPELINES}/runs/list`, undefined, query(filter))).runs;
  }

  async getPipelineRun(runId: string): Promise<{ run: WirePipelineRun; steps: WirePipelineStep[]; graph: WirePipelineGraph }> {
    return this.call('GET', `${PIPELINES}/runs/get`, undefined, { run_id: runId });
  }

  async pipelineRunLogs(runId: string, opts: { after?: number; step?: string; wait_ms?: number; max_results?: number } = {}): Promise<{ lines: WireLogLine[]; next_after: number; status: WirePipelineRun['status'] }> {
    return this.call('GET', `${PIPELINES}/runs/logs`, undefined, query({ run_id: runId, ...opts }));
  }

  async cancelPipelineRun(runId: string): Promise<WirePipelineRun> {
    return (await this.call<{ run: WirePipelineRun }>('POST', `${PIPELINES}/runs/cancel`, { run_id: runId })).run;
  }

  async retryPipelineRun(runId: string): Promise<WirePipelineRun> {
    return (await this.call<{ run: WirePipelineRun }>('POST', `${PIPELINES}/runs/retry`, { run_id: runId })).run;
  }

  async pipelineWorkers(): Promise<Array<{ id: string; labels: Record<string, string>; last_seen_time: number; task: { task_id: string; attempt: number } | null }>> {
    return (await this.call<{ workers: Array<{ id: string; labels: Record<string, string>; last_seen_time: number; task: { task_id: string; attempt: number } | null }> }>('GET', `${PIPELINES}/workers`)).workers;
  }

  async clearPipelineCache(): Promise<number> {
    return (await this.call<{ deleted: number }>('POST', `${PIPELINES}/cache/clear`)).deleted;
  }
}
