import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { App } from './App';
import { api, toOutboundPage } from './api';
import { formatDuration } from './format';
import { outboundStatusLabel, outboundSucceeded } from './pages/OutboundPage';
import { apiError, HEALTH, json, mockApi, SESSION, type Route } from './test/mockApi';

const HOST = 'https://api.vendor.example';
const XSS = '<img src=x onerror="window.__outboundXss = true">';

/** An entry as `GET /api/v1/outbound` sends it (console/src/http/upstream.rs). */
function entry(id: number, extra: Record<string, unknown> = {}) {
  return {
    id,
    at: '2025-06-01T08:00:00Z',
    method: 'GET',
    url: `${HOST}/v1/channels/stable/index`,
    purpose: 'channel index (stable)',
    request_headers: {
      Accept: 'application/json',
      Authorization: 'Bearer ****',
      'X-Outpost-Instance': 'inst-7c1f',
      'X-Outpost-Console-Version': '0.1.0',
      'X-Outpost-App-Sequence': '',
      'X-Outpost-Node-Count': '2',
    },
    request_fields: {},
    status: 200,
    error: null,
    bytes_sent: 412,
    bytes_received: 3174,
    duration_ms: 143,
    ...extra,
  };
}

const OK = entry(12);
const FAILED = entry(11, {
  at: '2025-06-01T07:59:58Z',
  url: `${HOST}/v1/releases/2`,
  purpose: 'release 2',
  status: null,
  error: `cannot reach ${HOST}/v1/releases/2: Connection refused (os error 111)`,
  bytes_received: 0,
  duration_ms: 2,
});

function go(path: string) {
  window.history.replaceState(null, '', path);
}

function routes(outbound: Route) {
  return mockApi({
    'GET /api/v1/session': json(200, SESSION),
    'GET /api/v1/health': json(200, HEALTH),
    'GET /api/v1/outbound': outbound,
  });
}

async function openOutbound() {
  go('/outbound');
  render(<App />);
  await screen.findByTestId('outbound-page');
}

function row(id: number): HTMLElement {
  const found = screen.getAllByTestId('outbound-row').find((r) => r.getAttribute('data-id') === String(id));
  if (!found) throw new Error(`no outbound row ${id}`);
  return found;
}

describe('outbound log page', () => {
  it('lists what was sent, newest first, with the outcome of each request', async () => {
    routes(json(200, { entries: [OK, FAILED], next_before: null }));
    await openOutbound();
    await screen.findByTestId('outbound-table');
    expect(document.title).toBe('Outbound log · Outpost');
    expect(screen.getByTestId('nav-outbound').getAttribute('aria-current')).toBe('page');
    expect(screen.getByTestId('outbound-page').textContent).toContain(
      'Every connection this console opened to outside the install',
    );

    expect(screen.getAllByTestId('outbound-row').map((r) => r.getAttribute('data-id'))).toEqual(['12', '11']);

    const ok = row(12);
    expect(ok.textContent).toContain('2025-06-01 08:00:00 UTC');
    expect(ok.textContent).toContain('GET');
    expect(ok.textContent).toContain(`${HOST}/v1/channels/stable/index`);
    expect(ok.textContent).toContain('channel index (stable)');
    expect(ok.textContent).toContain('412 B sent');
    expect(ok.textContent).toContain('3.1 KiB received');
    expect(ok.textContent).toContain('143 ms');
    const okStatus = within(ok).getByTestId('outbound-status');
    expect(okStatus.textContent).toBe('200');
    expect(okStatus.className).toContain('badge-ok');
    expect(within(ok).queryByTestId('outbound-row-error')).toBeNull();

    const failed = row(11);
    expect(failed.textContent).toContain('release 2');
    const failedStatus = within(failed).getByTestId('outbound-status');
    expect(failedStatus.textContent).toBe('failed');
    expect(failedStatus.className).toContain('badge-bad');
    expect(within(failed).getByTestId('outbound-row-error').textContent).toBe(
      `cannot reach ${HOST}/v1/releases/2: Connection refused (os error 111)`,
    );
    expect(failed.textContent).toContain('0 B received');
    expect(failed.textContent).toContain('2 ms');

    // Details stay closed until asked for; the last page has no "Load older".
    expect(screen.queryByTestId('outbound-details-12')).toBeNull();
    expect(screen.queryByTestId('outbound-more')).toBeNull();
    expect(screen.getByText('End of the outbound log.')).toBeTruthy();
  });

  it('pages back with before=next_before and keeps the rows already shown', async () => {
    const m = routes((call) =>
      call.url.includes('before=11')
        ? json(200, { entries: [entry(10, { purpose: 'release 1' })], next_before: null })
        : json(200, { entries: [OK, FAILED], next_before: 11 }),
    );
    await openOutbound();
    await waitFor(() => expect(screen.getAllByTestId('outbound-row')).toHaveLength(2));

    const more = screen.getByTestId('outbound-more');
    expect(more.textContent).toBe('Load older');
    fireEvent.click(more);
    await waitFor(() => expect(screen.getAllByTestId('outbound-row')).toHaveLength(3));
    expect(screen.getAllByTestId('outbound-row').map((r) => r.getAttribute('data-id'))).toEqual(['12', '11', '10']);
    expect(row(10).textContent).toContain('release 1');
    expect(screen.queryByTestId('outbound-more')).toBeNull();
    expect(m.callsTo('GET', '/api/v1/outbound').map((c) => c.url)).toEqual([
      '/api/v1/outbound?limit=50',
      '/api/v1/outbound?limit=50&before=11',
    ]);
  });

  it('expands a row to the headers and fields exactly as sent, masked by the console', async () => {
    const posted = entry(13, {
      method: 'POST',
      url: `${HOST}/v1/report`,
      purpose: 'usage report',
      request_headers: {
        Authorization: 'Bearer ****',
        'Content-Type': 'application/json',
        'Content-Length': '57',
      },
      request_fields: { license_id: 'lic-2025-0042', api_token: '****', nodes: 2, extra: { a: [1, 'b'] } },
    });
    routes(json(200, { entries: [posted, OK], next_before: null }));
    await openOutbound();
    await screen.findByTestId('outbound-table');

    const toggle = screen.getByTestId('outbound-toggle-13');
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    fireEvent.click(toggle);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    const details = screen.getByTestId('outbound-details-13');

    const headers = within(details).getAllByTestId('outbound-header');
    expect(headers.map((h) => h.getAttribute('data-name'))).toEqual([
      'Authorization',
      'Content-Type',
      'Content-Length',
    ]);
    expect(headers[0].textContent).toBe('Authorization: Bearer ****');
    expect(within(details).getByText('Bearer ****')).toBeTruthy();

    const fields = within(details).getAllByTestId('outbound-field');
    expect(fields.map((f) => f.textContent)).toEqual([
      'license_id: lic-2025-0042',
      'api_token: ****',
      'nodes: 2',
      'extra: {"a":[1,"b"]}',
    ]);

    // Only the opened row shows details; a GET shows that it sent no fields.
    expect(screen.queryByTestId('outbound-details-12')).toBeNull();
    fireEvent.click(screen.getByTestId('outbound-toggle-12'));
    const getDetails = screen.getByTestId('outbound-details-12');
    expect(within(getDetails).queryAllByTestId('outbound-field')).toHaveLength(0);
    expect(getDetails.textContent).toContain('No fields were sent besides what the URL shows.');
    expect(within(getDetails).getAllByTestId('outbound-header')).toHaveLength(6);

    fireEvent.click(toggle);
    expect(screen.queryByTestId('outbound-details-13')).toBeNull();
  });

  it('shows markup in a logged value as literal text', async () => {
    const hostile = entry(14, {
      url: `${HOST}/v1/x?q=${XSS}`,
      purpose: XSS,
      request_headers: { 'X-Evil': XSS, [XSS]: 'name-as-markup' },
      request_fields: { note: XSS },
      status: 502,
      error: XSS,
    });
    routes(json(200, { entries: [hostile], next_before: null }));
    await openOutbound();
    await screen.findByTestId('outbound-table');
    fireEvent.click(screen.getByTestId('outbound-toggle-14'));

    const page = screen.getByTestId('outbound-page');
    expect(page.querySelector('img')).toBeNull();
    expect((window as unknown as { __outboundXss?: boolean }).__outboundXss).toBeUndefined();

    const evil = screen.getAllByTestId('outbound-header').find((h) => h.getAttribute('data-name') === 'X-Evil');
    expect(evil?.textContent).toBe(`X-Evil: ${XSS}`);
    const named = screen.getAllByTestId('outbound-header').find((h) => h.getAttribute('data-name') === XSS);
    expect(named?.textContent).toBe(`${XSS}: name-as-markup`);
    expect(screen.getByTestId('outbound-field').textContent).toBe(`note: ${XSS}`);
    expect(screen.getByTestId('outbound-row-error').textContent).toBe(XSS);
    expect(row(14).textContent).toContain(`${HOST}/v1/x?q=${XSS}`);

    const status = screen.getByTestId('outbound-status');
    expect(status.textContent).toBe('502');
    expect(status.className).toContain('badge-bad');
  });

  it('says so when nothing has been sent', async () => {
    routes(json(200, { entries: [], next_before: null }));
    await openOutbound();
    const empty = await screen.findByTestId('outbound-empty');
    expect(empty.textContent).toBe('Nothing has been sent out of this install.');
    expect(screen.queryByTestId('outbound-table')).toBeNull();
    expect(screen.queryByTestId('outbound-more')).toBeNull();
  });

  it('shows the console error in a banner', async () => {
    routes(apiError(500, 'internal', 'The console failed inside.'));
    await openOutbound();
    const banner = await screen.findByTestId('outbound-error');
    expect(banner.textContent).toContain('The outbound log could not be loaded.');
    expect(banner.textContent).toContain('The console failed inside.');
    expect(screen.queryByTestId('outbound-table')).toBeNull();
  });

  it('is reached from the navigation', async () => {
    go('/audit');
    mockApi({
      'GET /api/v1/session': json(200, SESSION),
      'GET /api/v1/health': json(200, HEALTH),
      'GET /api/v1/audit': json(200, { entries: [], next_before: null }),
      'GET /api/v1/outbound': json(200, { entries: [], next_before: null }),
    });
    render(<App />);
    await screen.findByTestId('audit-page');
    fireEvent.click(screen.getByTestId('nav-outbound'));
    expect(await screen.findByTestId('outbound-page')).toBeTruthy();
    expect(window.location.pathname).toBe('/outbound');
  });
});

describe('outbound log client', () => {
  it('builds the query from limit and before', async () => {
    const m = mockApi({ 'GET /api/v1/outbound': json(200, { entries: [], next_before: null }) });
    await api.outbound({ limit: 50, before: 17 });
    await api.outbound({ limit: 50, before: null });
    await api.outbound();
    expect(m.calls.map((c) => c.url)).toEqual([
      '/api/v1/outbound?limit=50&before=17',
      '/api/v1/outbound?limit=50',
      '/api/v1/outbound',
    ]);
  });

  it('copies an answer defensively', () => {
    expect(toOutboundPage(null)).toEqual({ entries: [], next_before: null });
    expect(toOutboundPage({ entries: 'nope', next_before: '3' })).toEqual({ entries: [], next_before: null });

    const page = toOutboundPage({
      entries: [
        {
          id: 5,
          at: '2025-06-01T08:00:00Z',
          method: 'GET',
          url: `${HOST}/v1/channels/stable/index`,
          purpose: 'channel index (stable)',
          // The console sends null when a stored JSON text cannot be read.
          request_headers: null,
          request_fields: ['not', 'an', 'object'],
          status: 'unknown',
          error: '',
          bytes_sent: -Infinity,
          duration_ms: 'slow',
          unexpected: 'ignored',
        },
        'garbage',
      ],
      next_before: 5,
    });
    expect(page.next_before).toBe(5);
    expect(page.entries[0]).toEqual({
      id: 5,
      at: '2025-06-01T08:00:00Z',
      method: 'GET',
      url: `${HOST}/v1/channels/stable/index`,
      purpose: 'channel index (stable)',
      request_headers: [],
      request_fields: [],
      status: null,
      error: null,
      bytes_sent: 0,
      bytes_received: 0,
      duration_ms: 0,
    });
    expect(page.entries[1].id).toBe(0);
    expect(page.entries[1].request_headers).toEqual([]);

    const values = toOutboundPage({
      entries: [{ id: 1, request_headers: { A: 'x', B: 2, C: null, D: true } }],
    }).entries[0].request_headers;
    expect(values).toEqual([
      { name: 'A', value: 'x' },
      { name: 'B', value: '2' },
      { name: 'C', value: 'null' },
      { name: 'D', value: 'true' },
    ]);
  });

  it('labels the outcome of a request', () => {
    const base = toOutboundPage({ entries: [OK] }).entries[0];
    expect(outboundSucceeded(base)).toBe(true);
    expect(outboundStatusLabel(base)).toBe('200');
    expect(outboundSucceeded({ ...base, status: 404 })).toBe(false);
    // An answer that started with 200 but could not be read completely did not succeed.
    expect(outboundSucceeded({ ...base, error: 'the answer from x is larger than 10 bytes; it was refused' })).toBe(
      false,
    );
    expect(outboundStatusLabel({ ...base, status: null, error: 'cannot reach x' })).toBe('failed');
    expect(outboundSucceeded({ ...base, status: null, error: null })).toBe(false);
    expect(outboundStatusLabel({ ...base, status: null, error: null })).toBe('no answer');
  });

  it('formats durations', () => {
    expect(formatDuration(0)).toBe('0 ms');
    expect(formatDuration(143)).toBe('143 ms');
    expect(formatDuration(1430)).toBe('1.4 s');
    expect(formatDuration(125_000)).toBe('2m 5s');
    expect(formatDuration(-1)).toBe('—');
    expect(formatDuration(Number.NaN)).toBe('—');
  });
});
