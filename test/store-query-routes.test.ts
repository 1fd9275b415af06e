import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BadRequest, registerQueryRoutes, RouteTable, type QueryRoute } from '../src/store/query-routes.js';
import { startTestStore } from './helpers/store-harness.js';

const noop = () => undefined;

void describe('query routing table', () => {
  void test('matches (method, path pattern) to a handler with decoded :params, GET also answering HEAD', () => {
    const table = new RouteTable();
    const routes: QueryRoute[] = [
      { method: 'GET', path: '/api/v2/traces/:id', name: 'trace', handle: noop },
      { method: 'POST', path: '/api/decisions', name: 'decisions', handle: noop },
      { method: 'GET', path: '/api/search/tag/:tag/values', name: 'tag_values', handle: noop },
    ];
    table.add(routes);
    const hit = table.match('HEAD', '/api/v2/traces/ab%63d');
    assert.equal(hit.kind, 'found');
    assert.deepEqual(hit.kind === 'found' && hit.params, { id: 'abcd' });
    const tag = table.match('GET', '/api/search/tag/resource.service.name/values');
    assert.deepEqual(tag.kind === 'found' && tag.params, { tag: 'resource.service.name' });
    assert.deepEqual(table.match('GET', '/api/decisions'), { kind: 'method', allow: ['POST'] });
    assert.deepEqual(table.match('GET', '/api/v2/traces/'), { kind: 'none' });
    assert.deepEqual(table.match('GET', '/api/v2/traces/a/b'), { kind: 'none' });
    assert.throws(() => table.match('GET', '/api/v2/traces/%E0%A4%A'), BadRequest);
  });

  void test('routes registered by another module are served, behind the bearer token unless public', async () => {
    registerQueryRoutes((server) => [
      {
        method: 'GET',
        path: '/test-registered/:name',
        name: 'test_registered',
        handle: ({ res, params }) => server.json(res, 'test_registered', 200, { hello: params.name }),
      },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-routes-'));
    const tokenFile = join(dir, 'tokens');
    writeFileSync(tokenFile, 'secret\n');
    const authed = await startTestStore({
      overrides: { auth: { required: true, reader_token_files: [tokenFile] } },
    });
    try {
      const h = authed;
      const ok = await h.query('/test-registered/world', { authorization: 'Bearer secret' });
      assert.deepEqual(ok, { status: 200, body: { hello: 'world' } });
      assert.equal((await h.query('/test-registered/world')).status, 401);
      // Health stays public; an unknown path is 404, a known path with another method 405.
      assert.equal((await h.query('/ready')).status, 200);
      assert.equal((await h.query('/nowhere', { authorization: 'Bearer secret' })).status, 404);
    } finally {
      await authed.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
