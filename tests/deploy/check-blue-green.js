#!/usr/bin/env node
'use strict';
// deploy.blue-green: scripts/blue-green on its own, against the cluster double (lib/cluster-
// double.js; no API server exists here), from a cluster where production's manifests are applied
// and the pair initialised. The release sequences through scripts/deploy are deploy.rehearsal;
// this covers the rest of the script: status, deploy with its own migration, switch only to a
// ready colour, finish, rollback after finish, dry runs, refused image references, usage errors.
const fs = require('fs');
const os = require('os');
const path = require('path');
const c = require('./lib/common');
const m = require('./lib/cluster-model');

const SCRIPT = path.join(c.ROOT, 'scripts', 'blue-green');
const DOUBLE = path.join(__dirname, 'lib', 'cluster-double.js');
const r = new c.Report('deploy.blue-green');
c.requireCommand('kubectl', 'the manifests are rendered with kubectl kustomize');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-blue-green-'));
let kubectl;
const registry = `${JSON.parse(fs.readFileSync(path.join(c.ROOT, 'infra', 'environments', 'production.json'), 'utf8')).names.acr}.azurecr.io`;
const REPO = `${registry}/plexus-host`;
const manifests = path.join(dir, 'rendered.yaml');
const yaml = c.tool('js-yaml');
fs.writeFileSync(manifests, c.render('production').map((d) => yaml.dump(d, {lineWidth: -1})).join('---\n')
    .replace(/(image: [^\n]*\/plexus-host:)0{40}/g, '$1v1v1v1'));
const stateFile = path.join(dir, 'state.json');
const env = () => Object.assign({}, process.env, {KUBECTL: kubectl, KUBECTL_DOUBLE_STATE: stateFile,
                                                  PLEXUS_JS_YAML: c.toolRequire().resolve('js-yaml')});

// A cluster with everything of production applied (no RBAC: this is the script, not the pipeline),
// the migrate Jobs gone as after a release, and the pair initialised (traffic on blue).
function reset() {
  const ns = {apiVersion: 'v1', kind: 'Namespace', metadata: {name: 'ecommerce'}};
  const sa = {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'default', namespace: 'ecommerce'}};
  fs.writeFileSync(stateFile, JSON.stringify({crds: Object.keys(m.PREREQUISITE_CRDS), objects: {[m.keyOf(ns)]: ns, [m.keyOf(sa)]: sa}}));
  const res = c.run(kubectl, ['--namespace', 'ecommerce', 'apply', '-f', manifests, '-l', 'plexus.dev/owned-by notin (blue-green)'], {env: env()});
  r.expect(res.status === 0, 'setup', `applying production: ${res.stderr}`);
  run('init');
}
const state = () => JSON.parse(fs.readFileSync(stateFile, 'utf8'));
const obj = (kind, name) => state().objects[m.key(kind, 'ecommerce', name)];
const live = () => obj('Service', 'order-service').spec.selector.version;
const dep = (colour) => obj('Deployment', `order-service-${colour}`);
const imageOf = (d) => d.spec.template.spec.containers[0].image;

function run(...args) {
  return c.run(SCRIPT, ['--manifests', manifests, '--timeout', '5'].concat(args), {env: env(), cwd: c.ROOT});
}
function step(label, args, wantStatus) {
  const res = run(...args);
  r.expect(res.status === wantStatus, label, `scripts/blue-green ${args.join(' ')}: exit ${res.status}, expected ${wantStatus}\n${res.stdout}${res.stderr}`);
  return res;
}

function scenarios() {
// 1. init made the pair: traffic on blue, green at 0, preview on green; init again changes nothing.
reset();
r.expect(live() === 'blue' && dep('green').spec.replicas === 0 && obj('Service', 'order-service-preview').spec.selector.version === 'green',
         'init', 'traffic on blue, green created at 0 replicas, preview on green expected');
const before = state().calls.length;
step('init again', ['init'], 0);
r.expect(!state().calls.slice(before).some((x) => x.startsWith('apply')), 'init again', 'init must not touch what exists');
r.expect(/live: blue/.test(step('status', ['status'], 0).stdout), 'status', 'status must name the live colour');

// 2. deploy v2 with its own migration: green gets v2 and 3 replicas; traffic stays on blue.
step('deploy v2', ['deploy', `${REPO}:v2`], 0);
let s = state();
const jobs = Object.values(s.objects).filter((o) => o.kind === 'Job' && /^order-service-migrate-\d{14}$/.test(o.metadata.name));
r.expect(jobs.length === 1 && imageOf(jobs[0]).endsWith(':v2'), 'deploy v2', 'one migrate Job under a fresh name with the new image expected');
r.expect(imageOf(dep('green')).endsWith(':v2') && dep('green').spec.replicas === 3 && dep('green').status.readyReplicas === 3,
         'deploy v2', `green should run v2 with 3 ready replicas: ${JSON.stringify(dep('green').spec.replicas)}`);
r.expect(imageOf(dep('blue')).endsWith(':v1v1v1') && live() === 'blue', 'deploy v2', 'blue keeps v1 and the traffic');
r.expect(obj('Service', 'order-service-preview').spec.selector.version === 'green', 'deploy v2', 'the preview must show the deployed colour');
const migratedAt = s.calls.findIndex((x) => x.startsWith('wait --for=condition=complete job/order-service-migrate-'));
const appliedAt = s.calls.findIndex((x, i) => i > migratedAt && x.startsWith('apply -f -'));
r.expect(migratedAt >= 0 && appliedAt > migratedAt, 'deploy v2', 'the migration must complete before the rollout starts');

// 3. switch -> green (preview -> blue), rollback -> blue, switch, finish, rollback after finish.
step('switch', ['switch'], 0);
r.expect(live() === 'green' && obj('Service', 'order-service-preview').spec.selector.version === 'blue', 'switch', 'traffic on green, preview on blue expected');
r.expect(obj('Service', 'order-service').metadata.annotations['plexus.dev/previous-version'] === 'blue', 'switch', 'the previous colour must be remembered');
step('rollback', ['rollback'], 0);
r.expect(live() === 'blue', 'rollback', `traffic on ${live()}, expected blue`);
step('switch again', ['switch'], 0);
step('finish', ['finish'], 0);
r.expect(dep('blue').spec.replicas === 0 && live() === 'green', 'finish', 'blue should be scaled to 0 with traffic on green');
step('rollback after finish', ['rollback'], 0);
r.expect(dep('blue').spec.replicas === 3 && dep('blue').status.readyReplicas === 3 && live() === 'blue', 'rollback after finish',
         'blue should be back to 3 ready replicas with the traffic');
s = state();
const scaleAt = s.calls.lastIndexOf('scale deployment/order-service-blue --replicas=3');
const patchAt = s.calls.map((x) => x.startsWith('patch service order-service ')).lastIndexOf(true);
r.expect(scaleAt >= 0 && patchAt > scaleAt, 'rollback after finish', 'scale up must come before the selector change');

// 4. Failures leave the traffic alone.
reset();
step('deploy an image that never gets ready', ['deploy', `${REPO}:broken`], 1);
r.expect(live() === 'blue', 'deploy an image that never gets ready', 'traffic moved');
step('switch to a colour that is not ready', ['switch'], 1);
r.expect(live() === 'blue', 'switch to a colour that is not ready', 'traffic moved to an unready colour');
reset();
step('failed migration', ['deploy', `${REPO}:badmigration`], 1);
r.expect(imageOf(dep('green')).endsWith(':v1v1v1'), 'failed migration', 'rolled out despite the failed migration');
reset();
const mark = state().calls.length;
step('latest refused', ['deploy', `${REPO}:latest`], 1);
step('untagged refused', ['deploy', REPO], 1);
r.expect(state().calls.slice(mark).every((x) => !x.startsWith('apply') && !x.startsWith('scale')), 'bad references',
         'nothing may change for a refused image reference');

// 5. In place: the live colour rolls, traffic and the idle colour stay.
reset();
step('roll in place', ['roll', `${REPO}:v3`], 0);
r.expect(imageOf(dep('blue')).endsWith(':v3') && live() === 'blue' && dep('green').spec.replicas === 0, 'roll in place',
         'blue should run v3 with the traffic, green untouched');

// 6. Dry run changes nothing; usage errors exit 2.
reset();
const dry = step('dry run', ['--dry-run', 'switch'], 0);
r.expect(live() === 'blue' && /\[dry-run\] kubectl .*patch service order-service/.test(dry.stdout), 'dry run', `dry run must print the patch and change nothing:\n${dry.stdout}`);
step('no command', [], 2);
step('unknown command', ['promote'], 2);
step('deploy without image', ['deploy'], 2);

}

require(DOUBLE).startDouble(dir).then((double) => {
  kubectl = double.kubectl;
  try {
    scenarios();
  } finally {
    double.stop();
  }
  fs.rmSync(dir, {recursive: true, force: true});
  r.finish();
});
