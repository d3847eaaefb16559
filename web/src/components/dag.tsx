// A directed graph laid out by dagre (left to right) and drawn as SVG: pipeline steps, lineage.
// Nodes are focusable and open with Enter as well as a click.
import { useEffect, useState } from 'preact/hooks';

export interface DagNode {
  id: string;
  label: string;
  sub?: string;
  /** CSS class on the node: a status, a kind. */
  cls?: string;
}

export interface DagEdge {
  from: string;
  to: string;
  label?: string;
}

interface Laid {
  width: number;
  height: number;
  nodes: (DagNode & { x: number; y: number; w: number; h: number })[];
  edges: { points: { x: number; y: number }[]; label?: string }[];
}

type Dagre = typeof import('@dagrejs/dagre');
let dagre: Promise<Dagre> | null = null;
const loadDagre = () => (dagre ??= import('@dagrejs/dagre').then((m) => ((m as unknown as { default?: Dagre }).default ?? m) as Dagre));

export function Dag(props: { nodes: DagNode[]; edges: DagEdge[]; label: string; onOpen?(id: string): void; selected?: string }) {
  const [laid, setLaid] = useState<Laid | null>(null);
  const shape = JSON.stringify([props.nodes.map((n) => [n.id, n.label, n.sub]), props.edges]);
  useEffect(() => {
    let gone = false;
    loadDagre().then((d) => {
      if (gone) return;
      const g = new d.graphlib.Graph();
      g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 50, marginx: 10, marginy: 10 });
      g.setDefaultEdgeLabel(() => ({}));
      for (const n of props.nodes) g.setNode(n.id, { width: Math.max(120, 8 + 7 * Math.max(n.label.length, (n.sub ?? '').length)), height: n.sub ? 44 : 30 });
      for (const e of props.edges) if (g.hasNode(e.from) && g.hasNode(e.to)) g.setEdge(e.from, e.to);
      d.layout(g);
      const info = g.graph();
      setLaid({
        width: info.width ?? 400,
        height: info.height ?? 200,
        nodes: props.nodes.map((n) => {
          const v = g.node(n.id);
          return { ...n, x: v.x, y: v.y, w: v.width, h: v.height };
        }),
        edges: g.edges().map((e) => ({ points: g.edge(e).points })),
      });
    });
    return () => {
      gone = true;
    };
  }, [shape]);
  if (!laid) return <p class="muted">Laying out…</p>;
  const cls = new Map(props.nodes.map((n) => [n.id, n.cls ?? '']));
  return (
    <div class="dag">
      <svg viewBox={`0 0 ${laid.width} ${laid.height}`} width={laid.width} height={laid.height} role="group" aria-label={props.label}>
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" fill="currentColor" opacity="0.6" />
          </marker>
        </defs>
        {laid.edges.map((e) => <path class="edge" marker-end="url(#arrow)" d={`M ${e.points.map((p) => `${p.x} ${p.y}`).join(' L ')}`} />)}
        {laid.nodes.map((n) => (
          <g
            class={`node ${cls.get(n.id)}${props.selected === n.id ? ' selected' : ''}`}
            transform={`translate(${n.x - n.w / 2},${n.y - n.h / 2})`}
            tabIndex={props.onOpen ? 0 : undefined}
            role={props.onOpen ? 'button' : undefined}
            aria-label={`${n.label}${n.sub ? `, ${n.sub}` : ''}`}
            data-node={n.id}
            onClick={() => props.onOpen?.(n.id)}
            onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && (e.preventDefault(), props.onOpen?.(n.id))}
          >
            <rect width={n.w} height={n.h} stroke-width={props.selected === n.id ? 3 : undefined} />
            <text x={8} y={n.sub ? 18 : 19}>{n.label}</text>
            {n.sub ? <text x={8} y={35} opacity="0.7" font-size="11">{n.sub}</text> : null}
          </g>
        ))}
      </svg>
    </div>
  );
}
