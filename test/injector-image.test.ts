/**
 * No Docker engine runs here, so the Dockerfile is checked by reading it: the properties the chart and the
 * injected agent depend on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { agentContainer } from '../src/injector/pod-patch.js';
import { CHART_AGENT_SETTINGS } from './helpers/agent-settings.js';

const dockerfile = readFileSync('Dockerfile', 'utf8');
const dockerignore = readFileSync('.dockerignore', 'utf8');

void test('the image runs on Node 24 (the current LTS) as the uid the injected agent and the chart declare', () => {
  assert.match(dockerfile, /^ARG NODE_IMAGE=node:24-[\w-]*slim$/m);
  const uid = /^USER (\d+):(\d+)$/m.exec(dockerfile);
  assert.ok(uid, 'a numeric USER, so that runAsNonRoot can verify it');
  const agent = agentContainer(CHART_AGENT_SETTINGS, { requests: {}, limits: {} }, true, 'app', '{}') as {
    securityContext: { runAsUser: number };
    command: string[];
  };
  assert.equal(Number(uid[1]), agent.securityContext.runAsUser);
  assert.equal(agent.command[0], 'sentinel');
  assert.match(dockerfile, /ln -s \/app\/dist\/cli\.js \/usr\/local\/bin\/sentinel/);
  // The chart's default uid (securityContext.runAsUser, null on OpenShift) is the image's.
  const values = readFileSync('charts/sentinel/values.yaml', 'utf8');
  assert.match(
    values,
    new RegExp(`^securityContext:\\n  runAsUser: ${uid[1]}\\n  runAsGroup: ${uid[2]}$`, 'm'),
  );
});

void test('the runtime stage holds the bundle (no node_modules) and runs node in exec form', () => {
  // dist/ is one bundle carrying its dependencies (scripts/build.mjs; test/build.test.ts runs it without them).
  assert.match(dockerfile, /^RUN npm run build$/m);
  assert.match(dockerfile, /^COPY --from=build \/app\/dist \.\/dist$/m);
  const runtime = dockerfile.slice(dockerfile.indexOf(' AS runtime'));
  assert.deepEqual(
    runtime.match(/^(COPY|RUN) .*$/gm)?.filter((l) => /node_modules|npm /.test(l)),
    [],
    'the runtime stage copies or installs no packages',
  );
  assert.match(dockerfile, /^ENTRYPOINT \["node", "\/app\/dist\/cli\.js"\]$/m);
  assert.match(dockerfile, /^STOPSIGNAL SIGTERM$/m);
  const stages = dockerfile.match(/^FROM .+$/gm) ?? [];
  assert.ok(stages.length >= 2, 'multi-stage');
});

void test('the build context holds what the build copies and nothing else', () => {
  assert.equal(
    dockerignore.split('\n').find((l) => l.trim() && !l.startsWith('#')),
    '*',
  );
  for (const copied of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const path of (copied[1] as string).split(/\s+/)) {
      assert.ok(dockerignore.includes(`!${path.replace(/\/$/, '')}`), `${path} is copied but ignored`);
    }
  }
});
