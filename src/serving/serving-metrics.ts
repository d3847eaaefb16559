import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
type Labels = 'deployment' | 'model' | 'version';

/** One served version's series, resolved once: label lookups per request cost more than the observations. */
export interface ModelSeries {
  request: { observe(seconds: number): void };
  queue: { observe(seconds: number): void };
  compute: { observe(seconds: number): void };
  rows: { inc(n: number): void };
  success: { inc(): void };
}

export interface QueueSource {
  /** [deployment, model, version, queued requests, ready 0/1] for every served model. */
  queues(): [string, string, string, number, number][];
}

/**
 * Serving's Prometheus series, labelled by deployment, model and version. Names follow the
 * Prometheus conventions with the stage split Triton uses (queue, compute, request) and KServe's
 * seconds-based histograms; docs/serving.md maps each to its Triton/KServe counterpart.
 */
export class ServingMetrics {
  readonly requestDuration: Histogram<Labels>;
  readonly queueDuration: Histogram<Labels>;
  readonly computeDuration: Histogram<Labels>;
  readonly batchSize: Histogram<'model' | 'version'>;
  readonly requests: Counter<Labels | 'outcome'>;
  readonly rejected: Counter<'deployment' | 'reason'>;
  readonly rows: Counter<Labels>;
  readonly executions: Counter<'model' | 'version'>;
  private readonly series = new Map<string, ModelSeries>();

  constructor(registry: Registry, source: QueueSource) {
    const registers = [registry];
    const labelNames = ['deployment', 'model', 'version'] as const;
    this.requestDuration = new Histogram({ name: 'capstan_inference_request_duration_seconds', help: 'Inference request time in the server, from routing to the answer (queue wait and compute included).', labelNames, buckets: SECONDS, registers });
    this.queueDuration = new Histogram({ name: 'capstan_inference_queue_duration_seconds', help: 'Time a request waited for an inference thread (Triton: queue duration).', labelNames, buckets: SECONDS, registers });
    this.computeDuration = new Histogram({ name: 'capstan_inference_compute_duration_seconds', help: "Time onnxruntime spent on the execution that carried the request (Triton: compute infer duration).", labelNames, buckets: SECONDS, registers });
    this.batchSize = new Histogram({ name: 'capstan_inference_batch_size', help: 'Rows per model execution after dynamic batching.', labelNames: ['model', 'version'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512], registers });
    this.requests = new Counter({ name: 'capstan_inference_requests_total', help: "Inference requests by outcome: 'success' or the error code.", labelNames: [...labelNames, 'outcome'], registers });
    this.rejected = new Counter({ name: 'capstan_inference_rejected_total', help: 'Requests refused before inference: overloaded (queue full), rate_limited, not_ready, circuit_open.', labelNames: ['deployment', 'reason'], registers });
    this.rows = new Counter({ name: 'capstan_inference_count_total', help: 'Rows inferred (Triton: nv_inference_count).', labelNames, registers });
    this.executions = new Counter({ name: 'capstan_inference_exec_count_total', help: 'Model executions; fewer than requests when batching (Triton: nv_inference_exec_count).', labelNames: ['model', 'version'], registers });
    new Gauge({
      name: 'capstan_inference_queue_depth', help: 'Requests waiting for an inference thread, per served model.', labelNames, registers,
      collect() {
        this.reset();
        for (const [deployment, model, version, depth] of source.queues()) this.set({ deployment, model, version }, depth);
      },
    });
    new Gauge({
      name: 'capstan_model_ready', help: '1 when the served model version is ready for inference, else 0.', labelNames, registers,
      collect() {
        this.reset();
        for (const [deployment, model, version, , ready] of source.queues()) this.set({ deployment, model, version }, ready);
      },
    });
  }

  forModel(deployment: string, model: string, version: string): ModelSeries {
    const key = `${deployment}\n${model}\n${version}`;
    let s = this.series.get(key);
    if (!s) {
      const labels = { deployment, model, version };
      s = {
        request: this.requestDuration.labels(labels), queue: this.queueDuration.labels(labels), compute: this.computeDuration.labels(labels),
        rows: this.rows.labels(labels), success: this.requests.labels({ ...labels, outcome: 'success' }),
      };
      this.series.set(key, s);
    }
    return s;
  }
}
