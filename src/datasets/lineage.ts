import type { ModelVersion, RegistryService } from '../registry/index.js';
import type { Db } from '../store/sql/index.js';
import type { TrackingService } from '../tracking/index.js';
import type { DatasetService } from './datasets.service.js';
import { mlflowDigestOf } from './types.js';

export type NodeKind = 'dataset_version' | 'dataset' | 'run' | 'pipeline_run' | 'model_version' | 'deployment';

export interface LineageNode {
  id: string;
  kind: NodeKind;
  label: string;
  attributes: Record<string, unknown>;
}

export interface LineageEdge {
  from: string;
  to: string;
  kind: 'input_of' | 'produced' | 'child_of' | 'serves';
  /** For `serves`: the deployment's target name and its weight (null for a shadow). */
  attributes?: Record<string, unknown>;
}

export interface LineageGraph {
  root: string;
  nodes: LineageNode[];
  edges: LineageEdge[];
  /** What the graph cannot show yet, said plainly. */
  notes: string[];
}

const PARENT_TAG = 'mlflow.parentRunId';
const PIPELINE_TAG = 'capstan.pipeline_run_id';

/** A deployment that routes traffic to (or shadows) a model version, as serving reports it. */
export interface DeploymentRef {
  name: string;
  target: string;
  /** Traffic share in percent; null for a shadow. */
  weight: number | null;
}

export type DeploymentsOf = (projectId: number, model: string, version: number) => Promise<DeploymentRef[]>;

class GraphBuilder {
  private readonly nodes = new Map<string, LineageNode>();
  private readonly edges = new Map<string, LineageEdge>();

  node(n: LineageNode): string {
    if (!this.nodes.has(n.id)) this.nodes.set(n.id, n);
    return n.id;
  }

  edge(e: LineageEdge): void {
    this.edges.set(`${e.from}>${e.to}`, e);
  }

  build(root: string, notes: string[]): LineageGraph {
    return { root, nodes: [...this.nodes.values()], edges: [...this.edges.values()], notes };
  }
}

const versionNode = (v: ModelVersion): LineageNode => ({
  id: `model:${v.name}/${v.version}`, kind: 'model_version', label: `${v.name} v${v.version} (${v.semver})`,
  attributes: { stage: v.stage, aliases: v.aliases, manifest_digest: v.manifestDigest },
});

/**
 * Walks the lineage graph: back from a model version to its run, the run's parents (pipeline runs)
 * and its dataset versions; forward from a dataset version to every run that read it and every model
 * version those runs produced.
 */
export class Lineage {
  constructor(
    private readonly db: Db,
    private readonly registry: RegistryService,
    private readonly datasets: DatasetService,
    private readonly tracking: TrackingService,
    private readonly deploymentsOf: DeploymentsOf = async () => [],
  ) {}

  /** The version's node, with an edge to every deployment that serves it. */
  private async addVersion(g: GraphBuilder, projectId: number, v: ModelVersion): Promise<string> {
    const id = g.node(versionNode(v));
    for (const d of await this.deploymentsOf(projectId, v.name, v.version)) {
      const dep = g.node({ id: `deployment:${d.name}`, kind: 'deployment', label: d.name, attributes: {} });
      g.edge({ from: id, to: dep, kind: 'serves', attributes: { target: d.target, weight: d.weight } });
    }
    return id;
  }

  private async addRun(g: GraphBuilder, projectId: number, runId: string, depth = 0): Promise<string | null> {
    // A parent tag can name any run id: only runs of this project join the graph.
    if ((await this.tracking.projectsOf('run', [runId])).get(runId) !== projectId) return null;
    const run = await this.tracking.getRun(runId).catch(() => undefined);
    if (!run) return null;
    const tags = Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
    const isPipeline = tags[PIPELINE_TAG] !== undefined;
    const id = g.node({ id: `run:${runId}`, kind: isPipeline && depth > 0 ? 'pipeline_run' : 'run', label: run.info.runName || runId, attributes: { experiment_id: run.info.experimentId, status: run.info.status } });
    for (const d of await this.datasets.runDatasets(projectId, runId)) {
      const dsId = d.version === null ? `dataset:${d.name}#${d.digest}` : `dataset:${d.name}@${d.version}`;
      g.node({ id: dsId, kind: d.version === null ? 'dataset' : 'dataset_version', label: d.version === null ? `${d.name} (${d.digest})` : `${d.name} v${d.version}`, attributes: { digest: d.digest, rows: d.rows, sensitive: d.sensitive, access: d.access, context: d.context } });
      g.edge({ from: dsId, to: id, kind: 'input_of' });
    }
    const parent = tags[PARENT_TAG];
    if (parent && depth < 10) {
      const parentId = await this.addRun(g, projectId, parent, depth + 1);
      if (parentId) g.edge({ from: id, to: parentId, kind: 'child_of' });
    }
    return id;
  }

  async ofModel(projectId: number, v: ModelVersion): Promise<LineageGraph> {
    const g = new GraphBuilder();
    const root = await this.addVersion(g, projectId, v);
    if (v.runId && v.runId !== 'REDACTED-RUN-ID') {
      const runId = await this.addRun(g, projectId, v.runId);
      if (runId) g.edge({ from: runId, to: root, kind: 'produced' });
    }
    return g.build(root, []);
  }

  async ofDataset(projectId: number, name: string, version: number): Promise<LineageGraph> {
    const dv = await this.datasets.get(projectId, name, version);
    const g = new GraphBuilder();
    const root = g.node({ id: `dataset:${dv.name}@${dv.version}`, kind: 'dataset_version', label: `${dv.name} v${dv.version}`, attributes: { digest: dv.digest, rows: dv.rowCount, sensitive: dv.sensitive, access: dv.access } });
    const runIds = (await this.db.all<{ run_uuid: string }>(
      `SELECT DISTINCT r.run_uuid FROM run_inputs ri JOIN datasets d ON d.dataset_id = ri.dataset_id
       JOIN runs r ON r.run_id = ri.run_id JOIN experiments e ON e.experiment_id = r.experiment_id
       WHERE e.project_id = ? AND d.name = ? AND d.digest = ? ORDER BY r.run_uuid`,
      [projectId, dv.name, mlflowDigestOf(dv.digest)],
    )).map((r) => r.run_uuid);
    for (const runId of runIds) {
      const run = await this.tracking.getRun(runId);
      const id = g.node({ id: `run:${runId}`, kind: 'run', label: run.info.runName || runId, attributes: { experiment_id: run.info.experimentId, status: run.info.status } });
      g.edge({ from: root, to: id, kind: 'input_of' });
      const versions = await this.registry.searchVersions(projectId, { filter: `run_id = '${runId}'`, maxResults: 1000 });
      for (const v of versions.items) {
        g.edge({ from: id, to: await this.addVersion(g, projectId, v), kind: 'produced' });
      }
    }
    return g.build(root, []);
  }
}

/** A Mermaid flowchart of the graph, left to right, one class per node kind. */
export function lineageMermaid(graph: LineageGraph): string {
  const ids = new Map(graph.nodes.map((n, i) => [n.id, `n${i}`]));
  const quote = (s: string) => s.replace(/"/g, '#quot;');
  const shape = (n: LineageNode) => {
    const label = `"${quote(n.label)}"`;
    if (n.kind === 'dataset_version' || n.kind === 'dataset') return `[(${label})]`;
    if (n.kind === 'model_version') return `[[${label}]]`;
    if (n.kind === 'pipeline_run') return `{{${label}}}`;
    if (n.kind === 'deployment') return `>${label}]`;
    return `(${label})`;
  };
  const lines = ['flowchart LR'];
  for (const n of graph.nodes) lines.push(`  ${ids.get(n.id)}${shape(n)}`);
  const edgeLabel = (e: LineageEdge) => (e.kind === 'serves' && e.attributes ? `serves ${e.attributes.target} ${e.attributes.weight === null ? 'shadow' : `${e.attributes.weight}%`}` : e.kind);
  for (const e of graph.edges) lines.push(`  ${ids.get(e.from)} -->|${edgeLabel(e)}| ${ids.get(e.to)}`);
  return `${lines.join('\n')}\n`;
}
