#!/usr/bin/env node
'use strict';
// deploy.blue-green: scripts/blue-green against a kubectl double (lib/kubectl-double.js; no
// API server exists here). Checks the release logic: deploy goes to the idle colour after a
// migration with the new image and leaves traffic alone; switch and rollback move the Service
// selector only to a ready colour; failures (bad image reference, failed migration, a rollout
// that never gets ready) change no traffic.
const fs = require('fs');
const os = require('os');
const path = require('path');
const c = require('./lib/common');

const SCRIPT = path.join(c.ROOT, 'scripts', 'blue-green');
const DOUBLE = path.join(__dirname, 'lib', 'kubectl-double.js');
const REPO = 'plexusacr.azurecr.io/plexus-host';

const r = new c.Report('deploy.blue-green');
c.requireCommand('kubectl', 'the blue-green script renders the overlay with kubectl kustomize');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-blue-green-'));
const stateFile = path.join(dir, 'state.json');
// A wrapper named kubectl in PATH order is not needed: the script honours KUBECTL.
const kubectl = path.join(dir, 'kubectl');
fs.writeFileSync(kubectl, `#!/bin/sh\nexec "${process.execPath}" "${DOUBLE}" "$@"\n`, {mode: 0o755});

function deployment(colour, image, replicas) {
  return {metadata: {name: `order-service-${colour}`},
          spec: {replicas, template: {spec: {containers: [{name: 'host', image}]}}},
          status: {readyReplicas: replicas, updatedReplicas: replicas}};
}
function reset() {
  fs.writeFileSync(stateFile, JSON.stringify({
    calls: [],
    services: {'order-service': {metadata: {name: 'order-service', annotations: {}},
                                 spec: {selector: {'app.kubernetes.io/instance': 'order-service', version: 'blue'}}}},
    deployments: {'order-service-blue': deployment('blue', `${REPO}:v1`, 3),
                  'order-service-green': deployment('green', `${REPO}:v1`, 0)},
    jobs: {},
  }));
}
const state = () => JSON.parse(fs.readFileSync(stateFile, 'utf8'));
const live = () => state().services['order-service'].spec.selector.version;
const dep = (colour) => state().deployments[`order-service-${colour}`];

function run(...args) {
  const res = c.run(SCRIPT, args, {env: Object.assign({}, process.env, {KUBECTL: kubectl, KUBECTL_DOUBLE_STATE: stateFile}),
                                   cwd: c.ROOT});
  return res;
}
function step(label, args, wantStatus) {
  const res = run(...args);
  r.expect(res.status === wantStatus, label,
           `scripts/blue-green ${args.join(' ')}: exit ${res.status}, expected ${wantStatus}\n${res.stdout}${res.stderr}`);
  return res;
}

// 1. Release v2: migration with v2, then green gets v2 and 3 replicas; traffic stays on blue.
reset();
step('deploy v2', ['deploy', `${REPO}:v2`], 0);
let s = state();
const jobs = Object.entries(s.jobs);
r.expect(jobs.length === 1 && /^order-service-migrate-\d{14}$/.test(jobs[0][0]), 'deploy v2',
         `one migrate Job under a fresh name expected, got ${jobs.map((j) => j[0])}`);
if (jobs.length) {
  const text = jobs[0][1].text;
  r.expect(jobs[0][1].image === `${REPO}:v2`, 'deploy v2', `migrate Job runs ${jobs[0][1].image}, not v2`);
  r.expect(/- migrate\n\s+- --config\n\s+- \/opt\/plexus\/config\/order-service.json/.test(text), 'deploy v2',
           'the migrate Job must come from the overlay (migrate --config order-service.json)');
  r.expect(/readOnlyRootFilesystem: true/.test(text) && /key: order-service/.test(text), 'deploy v2',
           'the migrate Job keeps the overlay\'s securityContext and database secret');
}
r.expect(dep('green').spec.template.spec.containers[0].image === `${REPO}:v2` && dep('green').spec.replicas === 3,
         'deploy v2', `green should run v2 with 3 replicas: ${JSON.stringify(dep('green').spec)}`);
r.expect(dep('blue').spec.template.spec.containers[0].image === `${REPO}:v1`, 'deploy v2', 'blue must keep v1');
r.expect(live() === 'blue', 'deploy v2', `traffic moved to ${live()} before switch`);
const migrateAt = s.calls.findIndex((x) => x.startsWith('wait --for=condition=complete job/'));
const setAt = s.calls.findIndex((x) => x.startsWith('set image deployment/order-service-green'));
r.expect(migrateAt >= 0 && setAt > migrateAt, 'deploy v2', 'the migration must complete before the rollout starts');

// 2. switch -> green, rollback -> blue, switch -> green, finish scales blue down.
step('switch', ['switch'], 0);
r.expect(live() === 'green', 'switch', `traffic on ${live()}, expected green`);
r.expect(state().services['order-service'].metadata.annotations['plexus.dev/previous-version'] === 'blue', 'switch',
         'the previous colour must be remembered on the Service');
step('rollback', ['rollback'], 0);
r.expect(live() === 'blue', 'rollback', `traffic on ${live()}, expected blue`);
step('switch again', ['switch'], 0);
step('finish', ['finish'], 0);
r.expect(dep('blue').spec.replicas === 0 && live() === 'green', 'finish', 'blue should be scaled to 0 with traffic on green');

// 3. Rollback after finish scales the old colour back up and waits before moving traffic.
step('rollback after finish', ['rollback'], 0);
r.expect(dep('blue').spec.replicas === 3 && dep('blue').status.readyReplicas === 3 && live() === 'blue',
         'rollback after finish', `blue should be back to 3 ready replicas with traffic: ${JSON.stringify(dep('blue'))}`);
s = state();
const scaleAt = s.calls.lastIndexOf('scale deployment/order-service-blue --replicas=3');
const patchAt = s.calls.map((x) => x.startsWith('patch service order-service')).lastIndexOf(true);
r.expect(scaleAt >= 0 && patchAt > scaleAt, 'rollback after finish', 'scale up must come before the selector change');

// 4. Failures leave the traffic alone.
reset();
step('deploy broken image', ['deploy', `${REPO}:broken`], 1);
r.expect(live() === 'blue', 'deploy broken image', 'traffic moved');
step('switch to a colour that is not ready', ['switch'], 1);
r.expect(live() === 'blue', 'switch to a colour that is not ready', 'traffic moved to an unready colour');

reset();
step('failed migration', ['deploy', `${REPO}:badmigration`], 1);
r.expect(!state().calls.some((x) => x.startsWith('set image')), 'failed migration', 'rolled out despite the failed migration');

reset();
step('latest refused', ['deploy', `${REPO}:latest`], 1);
step('untagged refused', ['deploy', REPO], 1);
r.expect(state().calls.every((x) => !x.startsWith('set') && !x.startsWith('apply')), 'bad references',
         'nothing may change for a refused image reference');

// 5. Dry run changes nothing; usage errors exit 2.
reset();
const dry = step('dry run', ['--dry-run', 'switch'], 0);
r.expect(live() === 'blue' && /\[dry-run\] kubectl .*patch service order-service/.test(dry.stdout), 'dry run',
         `dry run must print the patch and change nothing:\n${dry.stdout}`);
step('no command', [], 2);
step('unknown command', ['promote'], 2);
step('deploy without image', ['deploy'], 2);

fs.rmSync(dir, {recursive: true, force: true});
r.finish();
