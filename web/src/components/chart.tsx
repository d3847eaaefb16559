// A line chart of many series on uPlot (canvas): the series are downsampled to the plot's width
// before drawing, so a million points draw as fast as a few thousand. uPlot loads on first use.
import { useEffect, useRef, useState } from 'preact/hooks';
import { downsample, smooth, type Series } from '../lib/downsample.js';
import 'uplot/dist/uPlot.min.css';

export const PALETTE = ['#2f6fde', '#e4572e', '#17a589', '#a45ee5', '#f2a541', '#e83f6f', '#3bb273', '#7768ae', '#ff7f11', '#1b998b', '#c5283d', '#4d9de0'];

export interface ChartProps {
  title: string;
  series: Series[];
  /** What x is: a step number, or a time in ms since the epoch / since the start. */
  xKind?: 'step' | 'time' | 'relative';
  logY?: boolean;
  /** 0 (off) to 0.99. */
  smoothing?: number;
  height?: number;
  /** Set while the series are a preview of the full data: said in the caption. */
  partial?: string;
}

type UPlotCtor = typeof import('uplot');
let uplot: Promise<UPlotCtor> | null = null;
const loadUPlot = () => (uplot ??= import('uplot').then((m) => ((m as unknown as { default?: UPlotCtor }).default ?? m) as UPlotCtor));

export function LineChart(props: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const [stats, setStats] = useState<{ ms: number; points: number; drawn: number } | null>(null);
  useEffect(() => {
    let plot: InstanceType<UPlotCtor> | null = null;
    let gone = false;
    const el = box.current!;
    loadUPlot().then((UPlot) => {
      if (gone) return;
      const t0 = performance.now();
      const width = Math.max(300, el.clientWidth);
      const series = props.smoothing ? props.series.map((s) => ({ ...s, y: smooth(s.y, props.smoothing!) })) : props.series;
      const d = downsample(series, width, props.logY);
      const dark = document.documentElement.dataset.theme === 'dark';
      const axis = { stroke: dark ? '#c9d1d9' : '#333', grid: { stroke: dark ? '#30363d' : '#e5e5e5' }, ticks: { stroke: dark ? '#30363d' : '#ddd' } };
      const xTime = props.xKind === 'time';
      const xLabel = props.xKind === 'time' ? 'time' : props.xKind === 'relative' ? 'seconds since start' : 'step';
      plot = new UPlot(
        {
          width,
          height: props.height ?? 260,
          scales: { x: { time: xTime }, y: props.logY ? { distr: 3 } : {} },
          axes: [
            { ...axis, label: xTime ? undefined : xLabel },
            { ...axis, size: 60 },
          ],
          // Few points (a metric logged once or a handful of times): draw them as dots, a line needs two.
          series: [
            { label: xLabel },
            ...props.series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], fill: undefined, width: 1.5, spanGaps: true, points: { show: d.x.length <= 60, size: 6 } })),
          ],
          legend: { live: true },
          cursor: { drag: { x: true, y: false } },
        },
        [d.x, ...d.ys] as unknown as import('uplot').AlignedData,
        el,
      );
      const ms = performance.now() - t0;
      el.dataset.renderMs = ms.toFixed(1);
      el.dataset.points = String(d.points);
      el.dataset.full = props.partial ? '0' : '1';
      setStats({ ms, points: d.points, drawn: d.x.length * d.ys.length });
    });
    return () => {
      gone = true;
      plot?.destroy();
    };
  }, [props.series, props.logY, props.smoothing, props.xKind, props.height, props.partial]);
  return (
    <figure class="chart">
      <figcaption>
        <strong>{props.title}</strong>
        {stats ? <span class="muted small"> · {stats.points.toLocaleString()} points{props.partial ? ` (${props.partial})` : ''}, drawn in {stats.ms.toFixed(0)} ms</span> : null}
      </figcaption>
      <div ref={box} class="chart-box" data-chart={props.title} />
    </figure>
  );
}
