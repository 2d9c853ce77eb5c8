import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import { parseTail } from './pages/LogsPage';
import { APP_RUNNING } from './test/lifecycle';
import { apiError, HEALTH, json, mockApi, ndjsonStream, SESSION, type Call, type Route } from './test/mockApi';

const HOSTILE = '<script>window.__pwned = true</script><img src=x onerror="window.__pwned = true">';

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function logsAnswer(lines: { stream: string; line: string }[], service = 'web', replica = '2') {
  return { service, replica, node: 'node-b', container: `acme-${service}-${replica}`, lines };
}

const LINES = [
  { stream: 'stdout', line: 'listening on :8080' },
  { stream: 'stderr', line: 'warning: cache is cold' },
  { stream: 'stdout', line: HOSTILE },
];

function routes(extra: Record<string, Route> = {}) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/app/status': json(200, APP_RUNNING),
    ...extra,
  });
}

function params(call: Call): Record<string, string> {
  return Object.fromEntries(new URL(call.url, 'https://console.test').searchParams.entries());
}

function shownLines(): string[] {
  return screen.queryAllByTestId('logs-text').map((l) => l.textContent ?? '');
}

describe('logs page', () => {
  it('shows the last lines of the replica from the address, as text, with stderr marked', async () => {
    const m = routes({ 'GET /api/v1/app/logs': json(200, logsAnswer(LINES)) });
    go('/logs?service=web&replica=2');
    render(<App />);
    await waitFor(() => expect(shownLines()).toHaveLength(3));
    expect(document.title).toBe('Logs · Outpost');
    expect(params(m.callsTo('GET', '/api/v1/app/logs')[0])).toEqual({ service: 'web', replica: '2', tail: '200' });

    const box = screen.getByTestId('logs-lines');
    // Rendered literally: the markup is text, nothing was parsed or run.
    expect(shownLines()[2]).toBe(HOSTILE);
    expect(box.querySelector('script')).toBeNull();
    expect(box.querySelector('img')).toBeNull();
    expect(box.innerHTML).toContain('&lt;script&gt;');
    expect((window as unknown as { __pwned?: boolean }).__pwned).toBeUndefined();

    const rows = screen.getAllByTestId('logs-line');
    expect(rows.map((r) => r.getAttribute('data-stream'))).toEqual(['stdout', 'stderr', 'stdout']);
    expect(rows[1].className).toContain('log-stderr');
    expect(rows[0].className).not.toContain('log-stderr');

    await waitFor(() => expect((screen.getByTestId('logs-service') as HTMLSelectElement).value).toBe('web'));
    expect((screen.getByTestId('logs-replica') as HTMLSelectElement).value).toBe('2');
    expect(screen.getByTestId('logs-source').textContent).toContain('acme-web-2');
  });

  it('chooses the first replica when none is given, and loads another service and tail on request', async () => {
    const m = routes({
      'GET /api/v1/app/logs': (call) => json(200, logsAnswer([{ stream: 'stdout', line: `log of ${params(call).service}` }])),
    });
    go('/logs');
    render(<App />);
    await waitFor(() => expect(window.location.search).toBe('?service=web&replica=1'));
    await waitFor(() => expect(shownLines()).toEqual(['log of web']));

    fireEvent.change(screen.getByTestId('logs-service'), { target: { value: 'db' } });
    await waitFor(() => expect(window.location.search).toBe('?service=db&replica=1'));
    await waitFor(() => expect(shownLines()).toEqual(['log of db']));

    fireEvent.change(screen.getByTestId('logs-tail'), { target: { value: '9999' } });
    fireEvent.click(screen.getByTestId('logs-load'));
    expect(screen.getByTestId('logs-tail-error').textContent).toMatch(/1 to 5000/);
    const before = m.callsTo('GET', '/api/v1/app/logs').length;
    fireEvent.change(screen.getByTestId('logs-tail'), { target: { value: '50' } });
    fireEvent.click(screen.getByTestId('logs-load'));
    await waitFor(() => expect(m.callsTo('GET', '/api/v1/app/logs').length).toBe(before + 1));
    expect(params(m.calls[m.calls.length - 1])).toEqual({ service: 'db', replica: '1', tail: '50' });
    expect(screen.queryByTestId('logs-tail-error')).toBeNull();
  });

  it('follows the ndjson stream line by line and stops reading when Follow is turned off', async () => {
    const stream = ndjsonStream();
    const m = routes({
      'GET /api/v1/app/logs': (call) =>
        params(call).follow === 'true' ? stream.reply : json(200, logsAnswer([{ stream: 'stdout', line: 'old' }])),
    });
    go('/logs?service=web&replica=2');
    render(<App />);
    await waitFor(() => expect(shownLines()).toEqual(['old']));

    fireEvent.click(screen.getByTestId('logs-follow'));
    await waitFor(() => expect(m.callsTo('GET', '/api/v1/app/logs')).toHaveLength(2));
    const follow = m.callsTo('GET', '/api/v1/app/logs')[1];
    expect(params(follow)).toEqual({ service: 'web', replica: '2', tail: '200', follow: 'true' });
    expect(follow.headers.accept).toBe('application/x-ndjson');
    expect(screen.getByTestId('logs-following')).toBeTruthy();

    stream.line({ stream: 'stdout', line: 'first' });
    // A line split across chunks, and two lines in one chunk.
    stream.push('{"stream":"stderr","li');
    stream.push(`ne":"second"}\n${JSON.stringify({ stream: 'stdout', line: HOSTILE })}\n`);
    await waitFor(() => expect(shownLines()).toEqual(['first', 'second', HOSTILE]));
    expect(screen.getAllByTestId('logs-line')[1].getAttribute('data-stream')).toBe('stderr');
    expect(screen.getByTestId('logs-lines').querySelector('script')).toBeNull();

    fireEvent.click(screen.getByTestId('logs-follow'));
    expect((screen.getByTestId('logs-follow') as HTMLInputElement).checked).toBe(false);
    await waitFor(() => expect(stream.cancelled).toBe(true));
    stream.line({ stream: 'stdout', line: 'after stop' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The lines stay for reading; nothing more arrives.
    expect(shownLines()).toEqual(['first', 'second', HOSTILE]);
    expect(m.callsTo('GET', '/api/v1/app/logs')).toHaveLength(2);
  });

  it('stops the stream when the page is left', async () => {
    const stream = ndjsonStream();
    routes({
      'GET /api/v1/app/logs': (call) => (params(call).follow === 'true' ? stream.reply : json(200, logsAnswer([]))),
    });
    go('/logs?service=web&replica=2');
    const view = render(<App />);
    await screen.findByTestId('logs-empty');
    fireEvent.click(screen.getByTestId('logs-follow'));
    stream.line({ stream: 'stdout', line: 'live' });
    await waitFor(() => expect(shownLines()).toEqual(['live']));
    view.unmount();
    await waitFor(() => expect(stream.cancelled).toBe(true));
  });

  it('says so when the console ends the stream, and shows refusals', async () => {
    const stream = ndjsonStream();
    routes({
      'GET /api/v1/app/logs': (call) => (params(call).follow === 'true' ? stream.reply : json(200, logsAnswer([]))),
    });
    go('/logs?service=web&replica=2');
    const view = render(<App />);
    await screen.findByTestId('logs-empty');
    fireEvent.click(screen.getByTestId('logs-follow'));
    stream.line({ stream: 'stdout', line: 'last words' });
    stream.close();
    expect(await screen.findByTestId('logs-follow-ended')).toBeTruthy();
    expect((screen.getByTestId('logs-follow') as HTMLInputElement).checked).toBe(false);
    expect(shownLines()).toEqual(['last words']);
    view.unmount();

    routes({ 'GET /api/v1/app/logs': apiError(409, 'not_deployed', 'The application is not deployed.') });
    render(<App />);
    expect((await screen.findByTestId('logs-error')).textContent).toContain('The application is not deployed.');
  });
});

describe('parseTail', () => {
  it('accepts whole numbers from 1 to 5000 only', () => {
    expect(parseTail('200')).toBe(200);
    expect(parseTail(' 1 ')).toBe(1);
    expect(parseTail('5000')).toBe(5000);
    expect(parseTail('0')).toBeNull();
    expect(parseTail('5001')).toBeNull();
    expect(parseTail('2.5')).toBeNull();
    expect(parseTail('')).toBeNull();
    expect(parseTail('-3')).toBeNull();
  });
});
