import { useEffect, useState } from 'preact/hooks';
import { Announcer } from './components/Announcer';
import { Link } from './components/Link';
import { Loading, Notice } from './components/Notice';
import { api, setCsrfToken, setUnauthenticatedHandler } from './lib/api';
import { ApiError, describe } from './lib/errors';
import { startLive, stopLive } from './lib/live';
import { onRouteChange, parseRoute, paths, navigate, type Route } from './lib/router';
import { ROLE_LABEL, roleOf } from './lib/roles';
import type { Me } from './lib/types';
import { CatalogScreen } from './screens/Catalog';
import { JobScreen } from './screens/Job';
import { NotFound } from './screens/NotFound';
import { ServiceScreen } from './screens/Service';
import { ServicesScreen } from './screens/Services';
import { SignIn } from './screens/SignIn';
import { TemplateScreen } from './screens/TemplateForm';

type Auth =
  | { state: 'loading' }
  | { state: 'signed-out'; reason?: 'expired' | 'logout' }
  | { state: 'error'; message: string }
  | { state: 'in'; me: Me };

const RETURN_KEY = 'spawnit.returnTo';

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => onRouteChange(() => setRoute(parseRoute(location.pathname))), []);
  return route;
}

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'loading' });
  const route = useRoute();

  const loadMe = async () => {
    setAuth({ state: 'loading' });
    try {
      const me = await api.me();
      setCsrfToken(me.csrf_token);
      setAuth({ state: 'in', me });
      // Back to where the user was when the session ended.
      const back = sessionStorage.getItem(RETURN_KEY);
      sessionStorage.removeItem(RETURN_KEY);
      if (back && back.startsWith('/') && !back.startsWith('//') && location.pathname === '/') navigate(back, { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setAuth({ state: 'signed-out' });
      else setAuth({ state: 'error', message: describe(err) });
    }
  };

  useEffect(() => {
    setUnauthenticatedHandler(() => {
      stopLive();
      setCsrfToken('');
      setAuth((a) => (a.state === 'in' ? { state: 'signed-out', reason: 'expired' } : a));
    });
    void loadMe();
    return () => setUnauthenticatedHandler(null);
  }, []);

  useEffect(() => {
    if (auth.state === 'in') startLive();
    else stopLive();
  }, [auth.state]);

  // Move focus to the new screen's heading on navigation, so keyboard and screen reader
  // users start at the top of what changed.
  const [firstRoute, setFirstRoute] = useState(true);
  useEffect(() => {
    if (firstRoute) {
      setFirstRoute(false);
      return;
    }
    const t = setTimeout(() => {
      const h = document.querySelector<HTMLElement>('main h1');
      (h ?? document.getElementById('main'))?.focus();
    }, 0);
    return () => clearTimeout(t);
  }, [location.pathname]);

  const signOut = async () => {
    try {
      await api.logout();
    } catch {
      // Signed out locally either way; the server session expires on its own.
    }
    stopLive();
    setCsrfToken('');
    setAuth({ state: 'signed-out', reason: 'logout' });
  };

  let body;
  if (auth.state === 'loading') body = <Loading what="SpawnIt" />;
  else if (auth.state === 'error')
    body = (
      <div class="stack">
        <h1 tabIndex={-1}>SpawnIt is not available</h1>
        <Notice tone="error">{auth.message}</Notice>
        <button type="button" class="button button--primary" onClick={() => void loadMe()}>
          Try again
        </button>
      </div>
    );
  else if (auth.state === 'signed-out')
    body = <SignIn reason={auth.reason} onSignIn={() => sessionStorage.setItem(RETURN_KEY, location.pathname + location.search)} />;
  else body = <Screen key={location.pathname} route={route} me={auth.me} />;

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <div class="topbar__inner">
          <Link href={paths.catalog()} class="brand" aria-label="SpawnIt home">
            <span class="brand__mark" aria-hidden="true">◆</span> SpawnIt
          </Link>
          {auth.state === 'in' ? (
            <>
              <nav class="nav" aria-label="Main">
                <Link href={paths.catalog()} aria-current={route.name === 'catalog' || route.name === 'template' ? 'page' : undefined}>
                  Catalog
                </Link>
                <Link href={paths.services()} aria-current={route.name === 'services' || route.name === 'service' || route.name === 'job' ? 'page' : undefined}>
                  My services
                </Link>
              </nav>
              <UserBox me={auth.me} onSignOut={() => void signOut()} />
            </>
          ) : null}
        </div>
      </header>
      <main id="main" class="main" tabIndex={-1}>
        {body}
      </main>
      <Announcer />
    </>
  );
}

function UserBox({ me, onSignOut }: { me: Me; onSignOut: () => void }) {
  if (me.single_user) {
    return (
      <div class="user" data-testid="user">
        <span class="user__mode">Single-user mode</span>
      </div>
    );
  }
  const who = me.name || me.email || me.subject;
  return (
    <div class="user" data-testid="user">
      <span class="user__who">
        <span class="visually-hidden">Signed in as </span>
        <span class="user__name">{who}</span>
        {me.email && me.email !== who ? <span class="user__email">{me.email}</span> : null}
        <span class="user__role" data-testid="user-role">
          {ROLE_LABEL[roleOf(me)]}
        </span>
      </span>
      <button type="button" class="button button--small" onClick={onSignOut}>
        Sign out
      </button>
    </div>
  );
}

function Screen({ route, me }: { route: Route; me: Me }) {
  switch (route.name) {
    case 'catalog':
      return <CatalogScreen me={me} />;
    case 'template':
      return <TemplateScreen id={route.id} me={me} />;
    case 'services':
      return <ServicesScreen me={me} />;
    case 'service':
      return <ServiceScreen id={route.id} me={me} />;
    case 'job':
      return <JobScreen service={route.service} job={route.job} />;
    default:
      return <NotFound />;
  }
}
