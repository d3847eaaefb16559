// Building blocks every page uses: links, states (loading, error, empty), tabs, badges, dialogs.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { href, onLinkClick, setQuery } from '../lib/router.js';

export function Link(props: { to: string; children: ComponentChildren; class?: string; title?: string }) {
  return (
    <a href={href(props.to)} class={props.class} title={props.title} onClick={(e) => onLinkClick(e, props.to)}>
      {props.children}
    </a>
  );
}

/** A search box whose text goes into the page's `q` query parameter when submitted. */
export function NameSearch({ label, value }: { label: string; value: string }) {
  const [draft, setDraft] = useState(value);
  return (
    <form class="row" role="search" onSubmit={(e) => (e.preventDefault(), setQuery({ q: draft }))}>
      <input type="search" aria-label={label} placeholder="Find by name" value={draft} onInput={(e) => setDraft((e.target as HTMLInputElement).value)} />
      <button type="submit">Find</button>
    </form>
  );
}

export function ErrorBox({ error }: { error: Error | null }) {
  if (!error) return null;
  const code = (error as { errorCode?: string }).errorCode;
  return (
    <div class="error" role="alert">
      {code ? <strong>{code}</strong> : null} {error.message.replace(/^[A-Z_]+: /, '')}
    </div>
  );
}

export function Loading({ what }: { what?: string }) {
  return <p class="muted" aria-live="polite">Loading{what ? ` ${what}` : ''}…</p>;
}

/** What a new user sees on an empty page: what this is for and the first thing to do. */
export function Empty(props: { title: string; children: ComponentChildren }) {
  return (
    <div class="empty">
      <h3>{props.title}</h3>
      {props.children}
    </div>
  );
}

export function Badge({ value, kind }: { value: string; kind?: string }) {
  return <span class={`badge badge-${(kind ?? value).toLowerCase().replace(/[^a-z0-9]+/g, '-')}`}>{value}</span>;
}

export function Tabs(props: { tabs: string[]; current: string; onChange(tab: string): void }) {
  return (
    <div class="tabs" role="tablist">
      {props.tabs.map((t) => (
        <button role="tab" aria-selected={t === props.current} class={t === props.current ? 'active' : ''} onClick={() => props.onChange(t)}>
          {t}
        </button>
      ))}
    </div>
  );
}

/** A modal confirmation: the change is described, and nothing happens until Confirm is pressed. */
export function Confirm(props: { title: string; children: ComponentChildren; confirmLabel?: string; onConfirm(): Promise<void> | void; onCancel(): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    ref.current?.showModal();
  }, []);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await props.onConfirm();
    } catch (e) {
      setError(e as Error);
      setBusy(false);
    }
  };
  return (
    <dialog ref={ref} onCancel={(e) => (e.preventDefault(), props.onCancel())} aria-labelledby="confirm-title">
      <h3 id="confirm-title">{props.title}</h3>
      {props.children}
      <ErrorBox error={error} />
      <div class="row end">
        <button onClick={props.onCancel} disabled={busy}>Cancel</button>
        <button class="primary" onClick={confirm} disabled={busy}>{props.confirmLabel ?? 'Confirm'}</button>
      </div>
    </dialog>
  );
}

export function KeyValues({ rows, empty }: { rows: [string, ComponentChildren][]; empty?: string }) {
  if (rows.length === 0) return <p class="muted">{empty ?? 'None.'}</p>;
  return (
    <table class="kv">
      <tbody>
        {rows.map(([k, v]) => (
          <tr>
            <th scope="row">{k}</th>
            <td>{v}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
