import type { WireLineageGraph, WireLineageNode } from '../client/index.js';
import { parseDatasetRef } from './datasets.js';
import { fail, printRows } from './output.js';
import { clientFor, parseCommand, REMOTE_OPTIONS } from './remote.js';

const USAGE = `capstan lineage <verb> [--mermaid] [--url URL] [--json]
  model NAME@ALIAS | NAME/VERSION | models:/...   the model version's run, parent runs and datasets
  dataset NAME@VERSION                            the runs that read the dataset and the models they produced
  --mermaid prints the graph as a Mermaid flowchart`;

const OPTIONS = { ...REMOTE_OPTIONS, mermaid: { type: 'boolean', default: false } } as const;

type Edge = WireLineageGraph['edges'][number];

/** How an edge reads from the node being expanded: forward along it, or back against it. */
const FORWARD: Record<Edge['kind'], string> = { input_of: 'input of', produced: 'produced', child_of: 'child of', serves: 'serves' };
const BACKWARD: Record<Edge['kind'], string> = { input_of: 'reads', produced: 'produced by', child_of: 'parent of', serves: 'served by' };

function attributeText(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) return undefined;
  if (Array.isArray(value)) return value.join(',');
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

function nodeText(n: WireLineageNode): string {
  const attributes: [string, unknown][] = n.kind === 'run' || n.kind === 'pipeline_run' ? [['run_id', n.id.replace(/^run:/, '')]] : [];
  attributes.push(...Object.entries(n.attributes));
  const shown = attributes.flatMap(([k, v]) => {
    const text = attributeText(v);
    return text === undefined ? [] : [`${k}=${text}`];
  });
  return [`${n.kind.replace(/_/g, ' ')} ${n.label}`, ...(shown.length ? [shown.join(' ')] : [])].join('  ');
}

/**
 * The graph as a tree from its root, following each edge once, either way; a node reached a second
 * time is named but not expanded again. Nodes the root does not reach (none, today) follow as
 * further roots.
 */
export function lineageTree(graph: WireLineageGraph): string {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const shown = new Set<string>();
  const followed = new Set<Edge>();
  const lines: string[] = [];
  const expand = (id: string, indent: string): void => {
    const next = graph.edges.filter((e) => !followed.has(e) && (e.from === id || e.to === id));
    next.forEach((e) => followed.add(e));
    next.forEach((e, i) => {
      const to = e.from === id ? e.to : e.from;
      const relation = e.from === id ? FORWARD[e.kind] : BACKWARD[e.kind];
      const isLast = i === next.length - 1;
      const node = byId.get(to);
      const isRepeat = shown.has(to);
      lines.push(`${indent}${isLast ? '└─' : '├─'} ${relation} ${node ? nodeText(node) : to}${isRepeat ? '  (shown above)' : ''}`);
      if (isRepeat) return;
      shown.add(to);
      expand(to, `${indent}${isLast ? '   ' : '│  '}`);
    });
  };
  for (const root of [graph.root, ...graph.nodes.map((n) => n.id)]) {
    if (shown.has(root)) continue;
    shown.add(root);
    const node = byId.get(root);
    lines.push(node ? nodeText(node) : root);
    expand(root, '');
  }
  return `${[...lines, ...graph.notes.map((n) => `note: ${n}`)].join('\n')}\n`;
}

/** NAME@ALIAS, NAME/VERSION (or NAME/STAGE), or a models:/ URI as it is. */
function modelUri(ref: string): string {
  if (ref.startsWith('models:/')) return ref;
  if (!/^[^@/]+[@/][^@/]+$/.test(ref)) fail(`'${ref}' is not NAME@ALIAS, NAME/VERSION or a models:/ URI\nusage: ${USAGE}`);
  return `models:/${ref}`;
}

export async function lineageCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommand(argv, OPTIONS, USAGE);
  const [verb, ref, extra] = positionals;
  if (verb !== 'model' && verb !== 'dataset') fail(`unknown lineage verb '${verb ?? ''}'\nusage: ${USAGE}`);
  if (ref === undefined) fail(`missing ${verb === 'model' ? 'NAME@ALIAS' : 'NAME@VERSION'}\nusage: ${USAGE}`);
  if (extra !== undefined) fail(`unexpected argument '${extra}'\nusage: ${USAGE}`);
  if (values.mermaid && values.json) fail('give --mermaid or --json, not both');
  const client = clientFor(values);
  let mermaid: () => Promise<string>;
  let graph: () => Promise<WireLineageGraph>;
  if (verb === 'model') {
    const uri = modelUri(ref);
    [mermaid, graph] = [() => client.modelLineageMermaid(uri), () => client.modelLineage(uri)];
  } else {
    const { name, version } = parseDatasetRef(ref, true);
    [mermaid, graph] = [() => client.datasetLineageMermaid(name, version!), () => client.datasetLineage(name, version!)];
  }
  if (values.mermaid) process.stdout.write(await mermaid());
  else if (values.json) printRows([], [], true, await graph());
  else process.stdout.write(lineageTree(await graph()));
}
