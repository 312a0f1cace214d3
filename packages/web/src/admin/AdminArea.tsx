import { Link, Redirect, Route, Switch } from 'wouter';
import { DeploymentPage } from './DeploymentPage';
import { ModelConfigsPage } from './ModelConfigsPage';
import { ProvidersPage } from './ProvidersPage';
import { SystemPromptPage } from './SystemPromptPage';
import { UsagePage } from './UsagePage';
import { UsersPage } from './UsersPage';

const SECTIONS = [
  { path: '/providers', label: 'Providers' },
  { path: '/models', label: 'Models' },
  { path: '/system-prompt', label: 'System prompt' },
  { path: '/users', label: 'Users' },
  { path: '/usage', label: 'Usage' },
  { path: '/deployment', label: 'Deployment' },
];

/** The admin pages under `/admin` (nested routes). Lazy-loaded (default export); admins only. */
export default function AdminArea() {
  return (
    <div className="admin">
      <nav className="admin-nav" aria-label="Admin">
        <ul>
          {SECTIONS.map((section) => (
            <li key={section.path}>
              <Link href={section.path} className={(active) => (active ? 'active' : '')}>
                {section.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="admin-content">
        <Switch>
          <Route path="/providers" component={ProvidersPage} />
          <Route path="/models" component={ModelConfigsPage} />
          <Route path="/system-prompt" component={SystemPromptPage} />
          <Route path="/users" component={UsersPage} />
          <Route path="/usage" component={UsagePage} />
          <Route path="/deployment" component={DeploymentPage} />
          <Route>
            <Redirect to="/providers" replace />
          </Route>
        </Switch>
      </div>
    </div>
  );
}
