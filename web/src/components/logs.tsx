// A pipeline run's log, streamed: each request waits on the server (wait_ms) until new lines come
// or the run ends, so lines show up as the step prints them without polling in a tight loop.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { WireLogLine } from '../../../src/client/index.js';
import { api } from '../lib/session.js';
import { ErrorBox } from './ui.js';

export function LogView({ runId, step }: { runId: string; step?: string }) {
  const [lines, setLines] = useState<WireLogLine[]>([]);
  const [error, setError] = useState<Error | null>(null);
  const [ended, setEnded] = useState(false);
  const pre = useRef<HTMLPreElement>(null);
  const follow = useRef(true);
  useEffect(() => {
    let stop = false;
    let after = 0;
    setLines([]);
    setEnded(false);
    (async () => {
      while (!stop) {
        try {
          const page = await api().pipelineRunLogs(runId, { after, step, wait_ms: 20_000, max_results: 2000 });
          if (stop) return;
          after = page.next_after;
          if (page.lines.length) setLines((old) => old.concat(page.lines).slice(-20_000));
          const finished = !['queued', 'running'].includes(page.status);
          if (finished && page.lines.length === 0) {
            setEnded(true);
            return;
          }
          setError(null);
        } catch (e) {
          if (stop) return;
          setError(e as Error);
          await new Promise((r) => setTimeout(r, 3000));
        }
      }
    })();
    return () => {
      stop = true;
    };
  }, [runId, step]);
  useEffect(() => {
    const el = pre.current;
    if (el && follow.current) el.scrollTop = el.scrollHeight;
  }, [lines.length]);
  return (
    <div>
      <ErrorBox error={error} />
      <pre
        class="log"
        ref={pre}
        aria-label={`Log${step ? ` of ${step}` : ''}`}
        aria-live="off"
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          follow.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 20;
        }}
      >
        {lines.length === 0 ? (ended ? 'No log lines.' : 'Waiting for log lines…') : lines.map((l) => `${new Date(l.time).toLocaleTimeString()} ${step ? '' : `[${l.step}] `}${l.stream === 'stdout' ? '' : `${l.stream}: `}${l.line}\n`).join('')}
      </pre>
      <p class="muted small" data-log-state={ended ? 'ended' : 'streaming'}>{ended ? 'The run has ended.' : 'Streaming…'}</p>
    </div>
  );
}
