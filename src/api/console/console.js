// The console (issue 18): a page for the people who approve and review, over the HTTP API with
// the token they sign in with (kept in this tab's sessionStorage). Preact + htm, served as files
// by the API (src/api/http/console.ts): no build step, no outside network.
import { html, render, useCallback, useEffect, useState } from './vendor/preact-htm.js';

const TOKEN_KEY = 'semibot.console.token';
const token = () => sessionStorage.getItem(TOKEN_KEY);

async function api(path, options = {}) {
  const res = await fetch(path, {
    ...options,
    headers: {
      authorization: `Bearer ${token()}`,
      ...(options.body ? { 'content-type': 'application/json' } : {}),
    },
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
  return body;
}

/** The org's stored events as they come (GET /v1/events), reconnecting after the last seen id. */
function followEvents(onEvent, signal) {
  let lastId;
  const connect = async () => {
    while (!signal.aborted) {
      try {
        const res = await fetch('/v1/events', {
          headers: { authorization: `Bearer ${token()}`, ...(lastId ? { 'last-event-id': lastId } : {}) },
          signal,
        });
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            const record = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const id = /^id: (.*)$/m.exec(record)?.[1];
            const data = /^data: (.*)$/m.exec(record)?.[1];
            if (id && data) {
              lastId = id;
              onEvent(JSON.parse(data));
            }
            end = buffer.indexOf('\n\n');
          }
        }
      } catch {
        // dropped (a restart, a slow tab): wait a moment, then resume after the last event seen
      }
      if (!signal.aborted) await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void connect();
}

function SignIn({ onSignedIn }) {
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const value = new FormData(e.target).get('token')?.toString().trim();
    if (!value) return setError('Enter an API token.');
    sessionStorage.setItem(TOKEN_KEY, value);
    try {
      await api('/v1/sessions?limit=1');
      onSignedIn();
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      setError(`Not signed in: ${err.message}`);
    }
  };
  return html`<form class="signin" onSubmit=${submit} aria-labelledby="signin-title">
    <h1 id="signin-title">semibot-runtime console</h1>
    <label for="token">API token</label>
    <input id="token" name="token" type="password" autocomplete="off" required />
    <button type="submit">Sign in</button>
    <p role="alert" class="error">${error}</p>
  </form>`;
}

function Sessions({ tick, open }) {
  const [rows, setRows] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    api('/v1/sessions?limit=100').then(
      (b) => setRows(b.sessions),
      (err) => setError(err.message),
    );
  }, [tick]);
  return html`<section aria-labelledby="sessions-title">
    <h2 id="sessions-title">Sessions</h2>
    <p class="error" role="alert">${error}</p>
    <table>
      <thead><tr><th scope="col">Session</th><th scope="col">Agent</th><th scope="col">State</th><th scope="col">Actions</th><th scope="col">Failed</th><th scope="col">Approvals</th><th scope="col">Started by</th><th scope="col">Started</th></tr></thead>
      <tbody>
        ${rows.map(
          (s) => html`<tr>
            <td><button class="link" onClick=${() => open(s.session_id)}>${s.session_id}</button></td>
            <td>${s.agent_id}</td><td>${s.state}</td><td>${s.counts.actions}</td><td>${s.counts.failed}</td>
            <td>${s.counts.approvals}</td><td>${s.started_by ?? ''}</td><td>${new Date(s.started_at).toLocaleString()}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function EventRows({ events }) {
  return html`<table>
    <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Action</th><th scope="col">Outcome</th><th scope="col">Decided by</th><th scope="col">Span</th></tr></thead>
    <tbody>
      ${events.map(
        (e) => html`<tr>
          <td>${new Date(e.timestamp).toLocaleTimeString()}</td>
          <td>${e.event_type}</td>
          <td>${e.action_name ?? ''}</td>
          <td>${e.success === true ? 'success' : e.success === false ? (e.error_message ?? 'failed') : ''}</td>
          <td>${e.metadata?.decided_by ? `decided by ${e.metadata.decided_by}` : ''}</td>
          <td class="span-id">${e.metadata?.span_id ?? ''}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function Timeline({ id, tick, back }) {
  const [events, setEvents] = useState([]);
  const [verdict, setVerdict] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    const q = encodeURIComponent(id);
    api(`/v1/audit/events?session_id=${q}&limit=10000`).then(
      (b) => setEvents(b.events),
      (err) => setError(err.message),
    );
    api(`/v1/sessions/${q}/verify`).then(setVerdict, (err) => setError(err.message));
  }, [id, tick]);
  return html`<section aria-labelledby="timeline-title">
    <button class="link" onClick=${back}>← Sessions</button>
    <h2 id="timeline-title">Session ${id} ${
      verdict
        ? html`<span class=${`badge ${verdict.valid ? 'verified' : 'broken'}`} role="status">${verdict.valid ? 'verified' : 'broken'}</span>`
        : ''
    }</h2>
    ${traceOf(events)}
    <p class="error" role="alert">${error}</p>
    <${EventRows} events=${events} />
  </section>`;
}

/** A traced session's trace id (OTEL_*), to look the session up in a trace viewer. */
function traceOf(events) {
  const started = events.find((e) => e.event_type === 'session_started' && e.metadata?.trace_id);
  return started
    ? html`<p class="trace">Trace <code data-testid="trace-id">${started.metadata.trace_id}</code> (search it in your trace viewer)</p>`
    : '';
}

function Approvals({ tick, refresh }) {
  const [pending, setPending] = useState([]);
  const [decided, setDecided] = useState([]);
  const [message, setMessage] = useState('');
  useEffect(() => {
    api('/v1/approvals?state=pending').then(
      (b) => setPending(b.approvals),
      (err) => setMessage(err.message),
    );
    api('/v1/approvals?limit=20').then((b) => setDecided(b.approvals.filter((a) => a.state !== 'pending')));
  }, [tick]);
  const decide = async (approval, granted) => {
    try {
      await api(`/v1/approvals/${approval.approval_id}`, {
        method: 'POST',
        body: JSON.stringify({ granted }),
      });
      setMessage(`${granted ? 'Approved' : 'Denied'} ${approval.action_name} in ${approval.session_id}.`);
    } catch (err) {
      setMessage(err.message);
    }
    refresh();
  };
  return html`<section aria-labelledby="approvals-title">
    <h2 id="approvals-title">Approvals</h2>
    <p role="status">${message}</p>
    ${pending.length === 0 ? html`<p class="muted">Nothing waits for a decision.</p>` : ''}
    ${pending.map(
      (a) => html`<article class="card" aria-label=${`${a.action_name} in session ${a.session_id}`}>
        <h3>${a.action_name} <span class="muted">in session ${a.session_id}, agent ${a.agent_id}</span></h3>
        <p>${a.reason}. Expires ${new Date(a.expires_at).toLocaleString()}.</p>
        <p>Exact params:</p>
        <pre>${JSON.stringify(a.params, null, 2)}</pre>
        <div class="actions">
          <button class="approve" onClick=${() => decide(a, true)}>Approve</button>
          <button class="deny" onClick=${() => decide(a, false)}>Deny</button>
        </div>
      </article>`,
    )}
    <h3>Recently decided</h3>
    <table>
      <thead><tr><th scope="col">Action</th><th scope="col">Session</th><th scope="col">State</th><th scope="col">Decided by</th></tr></thead>
      <tbody>${decided.map((a) => html`<tr><td>${a.action_name}</td><td>${a.session_id}</td><td>${a.state}</td><td>${a.decided_by ?? ''}</td></tr>`)}</tbody>
    </table>
  </section>`;
}

function Search() {
  const [events, setEvents] = useState([]);
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    const params = new URLSearchParams();
    for (const [k, v] of new FormData(e.target)) if (v) params.set(k, v.toString());
    params.set('limit', '500');
    try {
      setEvents((await api(`/v1/audit/events?${params}`)).events);
      setError('');
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<section aria-labelledby="search-title">
    <h2 id="search-title">Audit search</h2>
    <form onSubmit=${submit} class="card">
      <label for="s-session">Session id</label> <input id="s-session" name="session_id" />
      <label for="s-agent">Agent id</label> <input id="s-agent" name="agent_id" />
      <label for="s-type">Event type</label> <input id="s-type" name="event_type" placeholder="e.g. action_failed" />
      <label for="s-since">Since</label> <input id="s-since" name="since" placeholder="2026-01-01T00:00:00Z" />
      <button type="submit">Search</button>
    </form>
    <p class="error" role="alert">${error}</p>
    <${EventRows} events=${events} />
  </section>`;
}

function App() {
  const [signedIn, setSignedIn] = useState(Boolean(token()));
  const [view, setView] = useState('sessions');
  const [sessionId, setSessionId] = useState(null);
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    if (!signedIn) return undefined;
    const stop = new AbortController();
    followEvents(refresh, stop.signal);
    return () => stop.abort();
  }, [signedIn]);
  if (!signedIn) return html`<${SignIn} onSignedIn=${() => setSignedIn(true)} />`;
  const go = (name) => () => {
    setView(name);
    setSessionId(null);
  };
  const current = sessionId ? 'sessions' : view;
  return html`<header>
      <h1>semibot-runtime</h1>
      <nav aria-label="Console">
        <button aria-current=${current === 'sessions' ? 'page' : undefined} onClick=${go('sessions')}>Sessions</button>
        <button aria-current=${current === 'approvals' ? 'page' : undefined} onClick=${go('approvals')}>Approvals</button>
        <button aria-current=${current === 'search' ? 'page' : undefined} onClick=${go('search')}>Audit search</button>
      </nav>
      <button onClick=${() => {
        sessionStorage.removeItem(TOKEN_KEY);
        setSignedIn(false);
      }}>Sign out</button>
    </header>
    <main>
      ${
        sessionId
          ? html`<${Timeline} id=${sessionId} tick=${tick} back=${() => setSessionId(null)} />`
          : view === 'approvals'
            ? html`<${Approvals} tick=${tick} refresh=${refresh} />`
            : view === 'search'
              ? html`<${Search} />`
              : html`<${Sessions} tick=${tick} open=${setSessionId} />`
      }
    </main>`;
}

const root = document.getElementById('app');
root.textContent = ''; // the "Loading" line shown until this module ran
render(html`<${App} />`, root);
