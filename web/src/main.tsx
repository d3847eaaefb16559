import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './styles.css';
import { ErrorBox, Link, Loading } from './components/ui.js';
import { match, navigate, useRoute } from './lib/router.js';
import { refreshPrincipal, setProject, signOut, useSession } from './lib/session.js';
import { AdminPage } from './pages/admin.js';
import { ComparePage } from './pages/compare.js';
import { DeploymentPage, DeploymentsPage } from './pages/deployments.js';
import { ExperimentsPage } from './pages/experiments.js';
import { LoginPage, OidcCallbackPage } from './pages/login.js';
import { ModelPage, ModelsPage } from './pages/models.js';
import { MonitoringPage } from './pages/monitoring.js';
import { PipelineRunPage, PipelinesPage } from './pages/pipelines.js';
import { RunPage } from './pages/run.js';
import { RunsPage } from './pages/runs.js';

type Page = (p: { params: Record<string, string>; query: URLSearchParams }) => preact.JSX.Element;

const ROUTES: [string, Page][] = [
  ['/experiments', ExperimentsPage],
  ['/experiments/:id', RunsPage],
  ['/compare', ComparePage],
  ['/runs/:id', RunPage],
  ['/models', ModelsPage],
  ['/models/:name', ModelPage],
  ['/pipelines', PipelinesPage],
  ['/pipelines/runs/:id', PipelineRunPage],
  ['/deployments', DeploymentsPage],
  ['/deployments/:name', DeploymentPage],
  ['/monitoring', MonitoringPage],
  ['/admin', AdminPage],
];

const NAV: [string, string][] = [
  ['/experiments', 'Experiments'],
  ['/models', 'Models'],
  ['/pipelines', 'Pipelines'],
  ['/deployments', 'Deployments'],
  ['/monitoring', 'Monitoring'],
  ['/admin', 'Admin'],
];

function useTheme(): [string, () => void] {
  const [theme, setTheme] = useState(() => localStorage.getItem('capstan.theme') ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('capstan.theme', theme);
  }, [theme]);
  return [theme, () => setTheme((t) => (t === 'dark' ? 'light' : 'dark'))];
}

function App() {
  const session = useSession();
  const route = useRoute();
  const [theme, toggleTheme] = useTheme();
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    refreshPrincipal().catch(setError);
  }, []);
  useEffect(() => {
    if (route.path === '/' || route.path === '') navigate('/experiments', true);
  }, [route.path]);

  if (route.path === '/oidc/callback') return <OidcCallbackPage query={route.query} />;
  if (!session.checked) return error ? <main><ErrorBox error={error} /></main> : <main><Loading /></main>;
  if (!session.principal) return <LoginPage />;

  let page: preact.JSX.Element = <main><h1>Not found</h1><p>No page at {route.path}. <Link to="/experiments">Go to experiments</Link>.</p></main>;
  for (const [pattern, Component] of ROUTES) {
    const params = match(pattern, route.path);
    if (params) {
      page = <main id="main"><Component params={params} query={route.query} /></main>;
      break;
    }
  }
  const p = session.principal;
  const projects = p.projects.map((x) => x.name);
  if (!projects.includes(session.project)) projects.unshift(session.project);
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <Link to="/experiments" class="brand">Capstan</Link>
        <nav aria-label="Sections">
          {NAV.map(([to, label]) => (
            <Link to={to} class={route.path.startsWith(to) ? 'active' : ''}>{label}</Link>
          ))}
        </nav>
        <span class="spacer" />
        <label class="project">
          <span class="sr-only">Project</span>
          <select aria-label="Project" value={session.project} onChange={(e) => setProject((e.target as HTMLSelectElement).value)}>
            {projects.map((name) => <option value={name}>{name}</option>)}
          </select>
        </label>
        <button class="ghost" onClick={toggleTheme} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} mode`} title="Light or dark">
          {theme === 'dark' ? '☀' : '☾'}
        </button>
        <span class="who" title={p.is_owner ? 'owner' : p.projects.find((x) => x.name === session.project)?.role}>{p.name}</span>
        {p.kind !== 'local' ? <button class="ghost" onClick={signOut}>Sign out</button> : null}
      </header>
      {/* A page is re-mounted when the project changes, so nothing of another project stays on screen. */}
      <div key={session.project}>{page}</div>
    </>
  );
}

render(<App />, document.getElementById('app')!);
