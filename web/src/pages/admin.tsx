// Admin: projects and their members with roles, API tokens (a new token's secret is shown once),
// and the audit log with filters and the verdict on its hash chain.
import { useMemo, useState } from 'preact/hooks';
import type { WireAuditEvent } from '../../../src/client/index.js';
import { Badge, Confirm, ErrorBox, Loading, Tabs } from '../components/ui.js';
import { fmtTime, useData } from '../lib/data.js';
import { setQuery } from '../lib/router.js';
import { api, can, useSession } from '../lib/session.js';

const TABS = ['Projects', 'Tokens', 'Audit'];
const ROLES = ['viewer', 'editor', 'deployer', 'admin'];
const value = (e: Event) => (e.target as HTMLInputElement).value;

export function AdminPage({ query }: { query: URLSearchParams }) {
  const tab = TABS.includes(query.get('tab') ?? '') ? query.get('tab')! : 'Projects';
  return (
    <>
      <h1>Admin</h1>
      <Tabs tabs={TABS} current={tab} onChange={(t) => setQuery({ tab: t === 'Projects' ? null : t })} />
      {tab === 'Projects' ? <Projects /> : tab === 'Tokens' ? <Tokens /> : <Audit query={query} />}
    </>
  );
}

function Projects() {
  const session = useSession();
  const projects = useData(() => api().listProjects(), []);
  const members = useData(() => api().listMembers(session.project), [session.project]);
  const [account, setAccount] = useState('');
  const [role, setRole] = useState('viewer');
  const [error, setError] = useState<Error | null>(null);
  const [removing, setRemoving] = useState<string | null>(null);
  const admin = can('admin');
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      members.reload();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <div class="grid2">
      <section>
        <h2>Projects</h2>
        <ErrorBox error={projects.error} />
        {!projects.data ? <Loading /> : (
          <table aria-label="Projects">
            <thead><tr><th>Name</th><th>Your role</th><th>Created</th><th>Description</th></tr></thead>
            <tbody>{projects.data.map((p) => <tr class={p.name === session.project ? 'selected' : ''}><td>{p.name}</td><td>{p.role ?? (session.principal?.is_owner ? 'owner' : '')}</td><td>{fmtTime(Date.parse(p.created_at))}</td><td class="muted">{p.description}</td></tr>)}</tbody>
          </table>
        )}
        <p class="muted small">An owner creates projects with <code>capstan projects create NAME</code>.</p>
      </section>
      <section>
        <h2>Members of {session.project}</h2>
        <ErrorBox error={members.error ?? error} />
        {!members.data ? <Loading /> : (
          <table aria-label="Members">
            <thead><tr><th>Account</th><th>Role</th><th></th></tr></thead>
            <tbody>
              {members.data.map((m) => (
                <tr>
                  <td>{m.account}</td>
                  <td>
                    <select aria-label={`Role of ${m.account}`} value={m.role} disabled={!admin} onChange={(e) => act(() => api().setMember(session.project, m.account, value(e)))}>
                      {ROLES.map((r) => <option value={r}>{r}</option>)}
                    </select>
                  </td>
                  <td>{admin ? <button class="danger" onClick={() => setRemoving(m.account)}>Remove</button> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {admin ? (
          <form class="row" onSubmit={(e) => (e.preventDefault(), act(async () => { await api().setMember(session.project, account.trim(), role); setAccount(''); }))}>
            <input aria-label="Account to add" placeholder="account" value={account} onInput={(e) => setAccount(value(e))} required />
            <select aria-label="Role for the new member" value={role} onChange={(e) => setRole(value(e))}>{ROLES.map((r) => <option value={r}>{r}</option>)}</select>
            <button type="submit">Add member</button>
          </form>
        ) : <p class="muted">Only a project admin changes members.</p>}
        {removing ? (
          <Confirm title={`Remove ${removing} from ${session.project}?`} confirmLabel="Remove" onCancel={() => setRemoving(null)} onConfirm={async () => {
            await api().removeMember(session.project, removing);
            setRemoving(null);
            members.reload();
          }}>
            <p>{removing} loses access to everything in {session.project}.</p>
          </Confirm>
        ) : null}
      </section>
    </div>
  );
}

function Tokens() {
  const tokens = useData(() => api().listTokens(), []);
  const session = useSession();
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<string[]>(['read']);
  const [project, setProject] = useState('');
  const [days, setDays] = useState('90');
  const [created, setCreated] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [revoking, setRevoking] = useState<string | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await api().createToken({ name: name.trim(), scopes, project: project || undefined, expires_in_days: days ? Number(days) : undefined });
      setCreated(r.token);
      setCopied(false);
      setName('');
      tokens.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  return (
    <>
      <h2>Your tokens</h2>
      <ErrorBox error={tokens.error} />
      {!tokens.data ? <Loading /> : tokens.data.length === 0 ? <p class="muted">No tokens yet. Scripts, CI and MLflow clients use one as <code>MLFLOW_TRACKING_TOKEN</code>.</p> : (
        <table aria-label="Tokens">
          <thead><tr><th>Name</th><th>Scopes</th><th>Project</th><th>Created</th><th>Expires</th><th>Last used</th><th></th></tr></thead>
          <tbody>
            {tokens.data.map((t) => (
              <tr>
                <td>{t.name} <span class="muted small mono">{t.token_id.slice(0, 8)}</span></td>
                <td>{t.scopes.join(', ')}</td>
                <td>{t.project ?? 'all'}</td>
                <td>{fmtTime(Date.parse(t.created_at))}</td>
                <td>{t.expires_at ? fmtTime(Date.parse(t.expires_at)) : 'never'}</td>
                <td>{t.last_used_at ? fmtTime(Date.parse(t.last_used_at)) : 'never'}</td>
                <td>{t.revoked_at ? <Badge value="revoked" kind="failed" /> : <button class="danger" onClick={() => setRevoking(t.token_id)}>Revoke</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>New token</h2>
      <form onSubmit={create} class="card" aria-label="New token">
        <div class="row">
          <label>Name <input value={name} onInput={(e) => setName(value(e))} required /></label>
          <fieldset class="row" style={{ border: 'none', margin: 0, padding: 0 }}>
            <legend class="sr-only">Scopes</legend>
            {['read', 'write', 'deploy', 'admin'].map((s) => (
              <label><input type="checkbox" checked={scopes.includes(s)} onChange={() => setScopes(scopes.includes(s) ? scopes.filter((x) => x !== s) : [...scopes, s])} /> {s}</label>
            ))}
          </fieldset>
          <label>Only in project{' '}
            <select value={project} onChange={(e) => setProject(value(e))}>
              <option value="">any of mine</option>
              {(session.principal?.projects ?? []).map((p) => <option value={p.name}>{p.name}</option>)}
            </select>
          </label>
          <label>Expires in <input type="number" min="1" style={{ width: '80px' }} value={days} onInput={(e) => setDays(value(e))} /> days</label>
          <button class="primary" type="submit" disabled={scopes.length === 0}>Create token</button>
        </div>
        <ErrorBox error={error} />
      </form>
      {created ? (
        <div class="card" role="status" style={{ borderColor: 'var(--warn)', marginTop: '12px' }}>
          <p><strong>Copy this token now: it is not shown again.</strong></p>
          <div class="row">
            <code data-secret-token>{created}</code>
            <button onClick={async () => { await navigator.clipboard.writeText(created); setCopied(true); }}>{copied ? 'Copied' : 'Copy'}</button>
            <button class="ghost" onClick={() => setCreated(null)}>Done</button>
          </div>
        </div>
      ) : null}
      {revoking ? (
        <Confirm title="Revoke this token?" confirmLabel="Revoke" onCancel={() => setRevoking(null)} onConfirm={async () => {
          await api().revokeToken(revoking);
          setRevoking(null);
          tokens.reload();
        }}>
          <p>Every client using it is refused from now on (within the server's credential cache time).</p>
        </Confirm>
      ) : null}
    </>
  );
}

function Audit({ query }: { query: URLSearchParams }) {
  const [events, setEvents] = useState<WireAuditEvent[]>([]);
  const [next, setNext] = useState<number | null | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const verdict = useData(() => api().auditVerify(), []);
  const filters = { actor: query.get('actor') ?? '', action: query.get('action') ?? '', outcome: query.get('outcome') ?? '' };
  const load = async (after?: number) => {
    try {
      const page = await api().auditEvents({ after_seq: after, max_results: 1000 });
      setEvents((old) => (after === undefined ? page.events : old.concat(page.events)));
      setNext(page.next_after_seq);
      setError(null);
    } catch (e) {
      setError(e as Error);
    }
  };
  useData(() => load(), []);
  const shown = useMemo(() => events.filter((e) => (!filters.actor || e.actor.includes(filters.actor)) && (!filters.action || e.action.includes(filters.action)) && (!filters.outcome || e.outcome === filters.outcome)).slice().reverse(), [events, filters.actor, filters.action, filters.outcome]);
  if (!can('admin')) return <p class="muted">The audit log is for project admins and owners.</p>;
  const v = verdict.data;
  return (
    <>
      <p>
        Chain: {v ? (v.ok ? <><Badge value="valid" /> {v.events} events, head #{v.headSeq}</> : <><Badge value="invalid" /> at event #{v.seq}: {v.message}</>) : verdict.error ? <ErrorBox error={verdict.error} /> : 'verifying…'}
      </p>
      <div class="row" role="search">
        <label>Actor <input value={filters.actor} onInput={(e) => setQuery({ actor: value(e) })} /></label>
        <label>Action <input value={filters.action} onInput={(e) => setQuery({ action: value(e) })} /></label>
        <label>Outcome{' '}
          <select value={filters.outcome} onChange={(e) => setQuery({ outcome: value(e) })}>
            <option value="">any</option><option value="ok">ok</option><option value="denied">denied</option><option value="failed">failed</option>
          </select>
        </label>
        <span class="muted">{shown.length} of {events.length} loaded</span>
      </div>
      <ErrorBox error={error} />
      <table aria-label="Audit events">
        <thead><tr><th>#</th><th>Time</th><th>Actor</th><th>Action</th><th>Resource</th><th>Project</th><th>Outcome</th><th>Request</th></tr></thead>
        <tbody>
          {shown.map((e) => (
            <tr>
              <td>{e.seq}</td><td>{fmtTime(e.time)}</td><td>{e.actor}</td><td>{e.action}</td><td class="small">{e.resource}</td><td>{e.project ?? ''}</td>
              <td><Badge value={e.outcome} kind={e.outcome === 'ok' ? 'ok' : 'failed'} /></td><td class="mono small">{e.request_id?.slice(0, 8) ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {next ? <button onClick={() => load(next)}>Load more</button> : null}
    </>
  );
}
