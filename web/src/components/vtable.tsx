// A table that draws only the rows in view (plus a margin), so 100k rows scroll like 50. Rows are
// fixed height; when the view nears the end of what is loaded, `onNeedMore` asks for the next page.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export interface Column<R> {
  key: string;
  label: string;
  width: number;
  render(row: R): ComponentChildren;
  /** Sortable columns show a button in their header. */
  sortable?: boolean;
}

export interface VTableProps<R> {
  rows: R[];
  columns: Column<R>[];
  rowKey(row: R): string;
  rowHeight?: number;
  sort?: { key: string; asc: boolean } | null;
  onSort?(key: string): void;
  selected?: Set<string>;
  onNeedMore?(): void;
  label: string;
}

export function VTable<R>(props: VTableProps<R>) {
  const h = props.rowHeight ?? 30;
  const box = useRef<HTMLDivElement>(null);
  const [view, setView] = useState({ top: 0, height: 800 });
  useEffect(() => {
    const el = box.current!;
    let frame = 0;
    const update = () => {
      frame = 0;
      setView({ top: el.scrollTop, height: el.clientHeight });
    };
    const onScroll = () => (frame ||= requestAnimationFrame(update));
    el.addEventListener('scroll', onScroll, { passive: true });
    const ro = new ResizeObserver(onScroll);
    ro.observe(el);
    update();
    return () => {
      el.removeEventListener('scroll', onScroll);
      ro.disconnect();
      cancelAnimationFrame(frame);
    };
  }, []);
  const first = Math.max(0, Math.floor(view.top / h) - 10);
  const last = Math.min(props.rows.length, Math.ceil((view.top + view.height) / h) + 10);
  useEffect(() => {
    if (last >= props.rows.length - 50) props.onNeedMore?.();
  }, [last, props.rows.length]);
  const template = props.columns.map((c) => `${c.width}px`).join(' ');
  const visible = [];
  for (let i = first; i < last; i++) {
    const row = props.rows[i];
    const key = props.rowKey(row);
    visible.push(
      <div role="row" aria-rowindex={i + 2} class={`vt-row${props.selected?.has(key) ? ' selected' : ''}`} style={{ top: `${34 + i * h}px`, height: `${h}px`, gridTemplateColumns: template }} key={key}>
        {props.columns.map((c) => <div role="cell">{c.render(row)}</div>)}
      </div>,
    );
  }
  return (
    <div class="vt" ref={box} role="table" aria-label={props.label} aria-rowcount={props.rows.length + 1} tabIndex={0}>
      <div class="vt-head" role="row" style={{ gridTemplateColumns: template }}>
        {props.columns.map((c) => (
          <div role="columnheader" title={c.label} aria-sort={props.sort?.key === c.key ? (props.sort.asc ? 'ascending' : 'descending') : undefined}>
            {c.sortable && props.onSort ? (
              <button onClick={() => props.onSort!(c.key)}>
                {c.label}
                {props.sort?.key === c.key ? (props.sort.asc ? ' ▲' : ' ▼') : ''}
              </button>
            ) : (
              c.label
            )}
          </div>
        ))}
      </div>
      <div style={{ height: `${props.rows.length * h}px` }} />
      {visible}
    </div>
  );
}
