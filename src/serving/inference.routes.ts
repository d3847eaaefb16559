import type { IncomingMessage } from 'node:http';
import { AppError, notFound } from '../errors/index.js';
import type { Action, ProjectRef } from '../access/index.js';
import { defineRoute, laneHandler, type LaneAnswer, type LaneContext, type RouteAccess, type RouteContext, type RouteDef } from '../server/route.js';
import { needsLosslessParse, parseJsonLossless } from './json-lossless.js';
import type { LiveDeployment } from './live-deployment.js';
import type { ServedModel } from './served-model.js';
import type { ServingRuntime } from './serving.runtime.js';
import { decodeInferenceRequest, decodeRequestDocument, encodeInferenceResponse, wantsBinaryOutput } from './tensor-codec.js';
import type { Tensor } from './types.js';
import { decodeV1, encodeV1 } from './v1-codec.js';

export interface InferenceLimits {
  maxRequestBytes: number;
  maxElements: number;
  serverVersion: string;
}

export const onDeployment = (action: Action): RouteAccess<Record<string, any>> => ({
  action,
  resource: (i, ctx) => ({ kind: 'deployment', id: typeof i.name === 'string' ? i.name : undefined, projectId: ctx.project.projectId }),
});

const PROBE = 'Kubernetes probes call these without credentials; they reveal no model data.';
export const EXTENSIONS = ['binary_tensor_data', 'parameters', 'statistics'];

/** Reads a raw body up to `limit` bytes (413 beyond). Plain stream events: an async iterator per request costs more. */
function readBody(raw: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(raw.headers['content-length']);
  if (declared > limit) return Promise.reject(new AppError('PAYLOAD_TOO_LARGE', `The request body is ${declared} bytes; serving.max_request_bytes allows ${limit}.`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      raw.off('data', onData);
      raw.resume();
      reject(new AppError('PAYLOAD_TOO_LARGE', `The request body exceeds serving.max_request_bytes (${limit} bytes).`));
    };
    raw.on('data', onData);
    raw.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    raw.once('error', reject);
  });
}

function headerLengthOf(raw: IncomingMessage): number | undefined {
  const given = raw.headers['inference-header-content-length'];
  if (given === undefined) return undefined;
  if (!/^\d+$/.test(String(given))) throw new AppError('BAD_REQUEST', `Inference-Header-Content-Length must be a byte count; got ${JSON.stringify(given)}.`);
  return Number(given);
}

/** The model that answers metadata for a deployment: the pinned version, else the heaviest target. */
function modelOf(live: LiveDeployment, version?: string): ServedModel {
  if (version !== undefined) {
    const t = [...live.table.targets, ...live.table.shadows].find((x) => String(x.version) === version);
    if (!t) throw notFound(`Deployment ${live.name} does not serve version ${version}.`);
    return t.model;
  }
  return [...live.table.targets].sort((a, b) => b.spec.weight - a.spec.weight)[0].model;
}

function tensorSpecs(specs: ServedModel['inputs']) {
  return specs.map((s) => ({ name: s.name, datatype: s.datatype, shape: s.shape }));
}

/** Selects and orders the outputs a V2 request asked for. */
function selectOutputs(all: Tensor[], wanted: { name: string }[] | undefined, model: ServedModel): Tensor[] {
  if (!wanted) return all;
  return wanted.map((w) => {
    const t = all.find((o) => o.name === w.name);
    if (!t) throw new AppError('MODEL_INPUT_INVALID', `Output '${w.name}' is not an output of the model (it has ${model.outputs.map((o) => o.name).join(', ')}).`);
    return t;
  });
}

/** Open Inference Protocol V2 and V1 `:predict` on deployments: `/v2/models/{deployment}/infer`. */
export function inferenceRoutes(runtime: ServingRuntime, limits: InferenceLimits): RouteDef[] {
  const live = (ctx: { project: ProjectRef }, name: string) => {
    const d = runtime.find(ctx.project.projectId, name);
    if (!d) throw notFound(`No deployment named '${name}' in this project.`);
    return d;
  };
  const ready = (i: Record<string, any>, ctx: { project: ProjectRef }) => {
    const model = modelOf(live(ctx, i.name), i.version);
    if (!model.isReady) throw new AppError('MODEL_NOT_READY', `Model ${model.name} version ${model.version} is ${model.state}${model.reason ? `: ${model.reason}` : ''}.`, { details: { retry_after_seconds: 1 } });
    return { name: i.name, ready: true };
  };
  const metadata = (i: Record<string, any>, ctx: RouteContext) => {
    const d = live(ctx, i.name);
    const model = modelOf(d, i.version);
    const versions = [...new Set([...d.table.targets, ...d.table.shadows].map((t) => String(t.version)))];
    return { name: i.name, versions, platform: 'onnx_onnxv1', inputs: tensorSpecs(model.inputs), outputs: tensorSpecs(model.outputs), properties: { model: model.name, version: model.version, state: model.state } };
  };
  const infer = async (i: Record<string, any>, ctx: LaneContext): Promise<LaneAnswer> => {
    const body = await readBody(ctx.raw, limits.maxRequestBytes);
    const request = decodeInferenceRequest(body, headerLengthOf(ctx.raw), limits.maxElements);
    const answer = await runtime.infer({
      projectId: ctx.project.projectId, deployment: i.name, version: i.version, inputs: request.inputs,
      header: (h) => ctx.raw.headers[h] as string | undefined, requestId: ctx.requestId, caller: ctx.principal.id,
    });
    const outputs = selectOutputs(answer.outputs, request.outputs, answer.model);
    const binary = new Set(outputs.filter((o) => wantsBinaryOutput(request, o.name)).map((o) => o.name));
    const encoded = encodeInferenceResponse({ modelName: i.name, modelVersion: answer.model.version, id: request.id, outputs }, binary);
    const headers: Record<string, string> = { 'x-capstan-target': answer.target, 'content-type': 'application/json; charset=utf-8' };
    if (encoded.headerLength !== undefined) {
      headers['inference-header-content-length'] = String(encoded.headerLength);
      headers['content-type'] = 'application/octet-stream';
    }
    return { status: 200, headers, body: encoded.body };
  };
  const stats = (i: Record<string, any>, ctx: RouteContext) => {
    const d = live(ctx, i.name);
    return {
      model_stats: [...d.table.targets, ...d.table.shadows].map((t) => ({
        name: i.name, version: t.model.version, target: t.spec.name, last_inference: t.model.stats.lastInference,
        inference_count: t.model.stats.inferenceCount, execution_count: t.model.stats.executionCount,
        inference_stats: { success: { count: t.model.stats.success, ns: Math.round(t.model.stats.computeMs * 1e6) }, fail: { count: t.model.stats.fail }, queue: { count: t.model.stats.success, ns: Math.round(t.model.stats.queueMs * 1e6) } },
      })),
    };
  };
  const predict = async (i: Record<string, any>, ctx: LaneContext): Promise<LaneAnswer> => {
    const m = /^(.+):predict$/.exec(String(i.name));
    if (!m) throw notFound(`POST /v1/models/${i.name}: Capstan serves the V1 verb NAME:predict only.`);
    const name = m[1];
    const text = (await readBody(ctx.raw, limits.maxRequestBytes)).toString('utf8');
    let doc: unknown;
    try {
      doc = needsLosslessParse(text) ? parseJsonLossless(text) : JSON.parse(text);
    } catch (err) {
      throw err instanceof AppError ? err : new AppError('BAD_REQUEST', `Malformed JSON body: ${(err as Error).message}`);
    }
    const model = modelOf(live(ctx, name));
    if (!model.isReady) ready({ name }, ctx);
    const v1 = decodeV1(doc, model.inputs);
    const { inputs } = decodeRequestDocument({ inputs: v1.inputs }, limits.maxElements);
    const answer = await runtime.infer({
      projectId: ctx.project.projectId, deployment: name, inputs, header: (h) => ctx.raw.headers[h] as string | undefined, requestId: ctx.requestId, caller: ctx.principal.id,
    });
    return { status: 200, headers: { 'x-capstan-target': answer.target, 'content-type': 'application/json; charset=utf-8' }, body: encodeV1(v1.format, answer.outputs) };
  };
  const read = onDeployment('read');
  const v2 = (path: string, summary: string, handler: (i: Record<string, any>, ctx: RouteContext) => unknown) => [
    defineRoute({ method: 'GET', path: `/v2/models/:name${path}`, tag: 'inference', summary, access: read, protocolErrors: true, logFailuresOnly: true, handler: async (i, ctx) => handler(i, ctx) }),
    defineRoute({ method: 'GET', path: `/v2/models/:name/versions/:version${path}`, tag: 'inference', summary: `${summary} (one version)`, access: read, protocolErrors: true, logFailuresOnly: true, handler: async (i, ctx) => handler(i, ctx) }),
  ];
  const lane = (path: string, summary: string, work: (i: Record<string, any>, ctx: LaneContext) => Promise<LaneAnswer>, access = read) =>
    defineRoute({ method: 'POST', path, tag: 'inference', summary, access, rawBody: true, protocolErrors: true, logFailuresOnly: true, lane: work, handler: laneHandler(work) });
  return [
    defineRoute({ method: 'GET', path: '/v2/health/live', tag: 'inference', summary: 'V2 server liveness', access: { public: PROBE }, protocolErrors: true, handler: async () => ({ live: true }) }),
    defineRoute({
      method: 'GET', path: '/v2/health/ready', tag: 'inference', summary: 'V2 server readiness: every routed model version is ready (503 otherwise)', access: { public: PROBE }, protocolErrors: true,
      handler: async () => {
        const waiting = runtime.deployments().flatMap((d) => d.table.targets.filter((t) => t.spec.weight > 0 && !t.model.isReady).map((t) => `${d.name}/${t.spec.name} (${t.model.state})`));
        if (waiting.length) throw new AppError('MODEL_NOT_READY', `Not ready: ${waiting.join(', ')}.`, { details: { retry_after_seconds: 1 } });
        return { ready: true };
      },
    }),
    defineRoute({
      method: 'GET', path: '/v2', tag: 'inference', summary: 'V2 server metadata', access: { public: PROBE }, protocolErrors: true,
      handler: async () => ({ name: 'capstan', version: limits.serverVersion, extensions: EXTENSIONS }),
    }),
    defineRoute({
      method: 'GET', path: '/v2/models', tag: 'inference', summary: "The project's deployments (V2 model names)", protocolErrors: true,
      access: { action: 'read', resource: (_i, ctx) => ({ kind: 'deployment', projectId: ctx.project.projectId }) },
      handler: async (_i, ctx) => ({ models: runtime.deployments().filter((d) => d.projectId === ctx.project.projectId).map((d) => d.name) }),
    }),
    ...v2('', 'V2 model metadata: inputs and outputs with datatypes and shapes', metadata),
    ...v2('/ready', 'V2 model readiness (503 while loading, draining or failed)', ready),
    ...v2('/stats', 'Inference statistics per version (Triton statistics extension)', stats),
    lane('/v2/models/:name/infer', 'V2 inference (JSON or binary tensors)', infer),
    lane('/v2/models/:name/versions/:version/infer', 'V2 inference (JSON or binary tensors) (one version)', infer),
    defineRoute({
      method: 'GET', path: '/v1/models', tag: 'inference', summary: "The project's deployments (V1)", protocolErrors: true,
      access: { action: 'read', resource: (_i, ctx) => ({ kind: 'deployment', projectId: ctx.project.projectId }) },
      handler: async (_i, ctx) => ({ models: runtime.deployments().filter((d) => d.projectId === ctx.project.projectId).map((d) => d.name) }),
    }),
    defineRoute({ method: 'GET', path: '/v1/models/:name', tag: 'inference', summary: 'V1 model readiness', access: read, protocolErrors: true, handler: async (i, ctx) => ready(i, ctx) }),
    // The V1 verb follows a colon in the last segment (`NAME:predict`), which the router cannot split.
    lane('/v1/models/:name', 'V1 prediction: POST /v1/models/NAME:predict with instances or inputs', predict, {
      action: 'read', resource: (i, ctx) => ({ kind: 'deployment', id: String(i.name).replace(/:predict$/, ''), projectId: ctx.project.projectId }),
    }),
  ];
}
