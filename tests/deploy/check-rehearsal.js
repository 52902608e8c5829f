#!/usr/bin/env node
'use strict';
// deploy.rehearsal: the static rehearsal of the install, upgrade, blue-green and rollback
// sequences. The workflow and docs/deploy.md run scripts/deploy; here it runs against
// lib/cluster-double.js (a kubectl with a model of a cluster behind it: a namespace and RBAC as
// kustomize/bootstrap makes them, the prerequisite CRDs, the operators' behaviour), so every step
// meets what a real API server and controllers would do with the rendered objects: references
// that must exist when a pod starts, kinds that must be known, Jobs that are immutable, fields a
// controller owns that an apply must not reset, and the pipeline identity's permissions. Each
// scenario below also shows a broken sequence failing, so the replay can fail.
const fs = require('fs');
const os = require('os');
const path = require('path');
const c = require('./lib/common');
const m = require('./lib/cluster-model');

const r = new c.Report('deploy.rehearsal');
c.requireCommand('kubectl', 'scripts/deploy renders the overlays with kubectl kustomize');
c.requireCommand('jq', 'scripts/deploy reads infra/environments/*.json with jq (apt-get install jq)');
const DEPLOY = path.join(c.ROOT, 'scripts', 'deploy');
const DOUBLE = path.join(__dirname, 'lib', 'cluster-double.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-rehearsal-'));
let kubectl;
const jsYaml = c.toolRequire().resolve('js-yaml');
const envFile = (e) => JSON.parse(fs.readFileSync(path.join(c.ROOT, 'infra', 'environments', `${e}.json`), 'utf8'));
const image = (e, tag) => `${envFile(e).names.acr}.azurecr.io/plexus-host:${tag}`;

// A bootstrapped cluster: the namespace and the pipeline's RBAC from kustomize/bootstrap, the
// default ServiceAccount Kubernetes adds to a namespace, the prerequisite CRDs.
function freshCluster(opts) {
  const docs = c.renderPath(path.join(c.KUSTOMIZE, 'bootstrap'));
  const ns = docs.find((d) => d.kind === 'Namespace');
  const objects = {};
  objects[m.keyOf(ns)] = ns;
  const sa = {apiVersion: 'v1', kind: 'ServiceAccount', metadata: {name: 'default', namespace: ns.metadata.name}};
  objects[m.keyOf(sa)] = sa;
  const role = docs.find((d) => d.kind === 'Role');
  const clusterRole = docs.find((d) => d.kind === 'ClusterRole');
  const state = {crds: Object.keys(m.PREREQUISITE_CRDS), objects, calls: [], violations: [],
                 rbac: {role: role.rules, clusterRole: clusterRole.rules}};
  if (opts && opts.edit) opts.edit(state);
  const file = path.join(dir, `state-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(state));
  return file;
}
const load = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
function copyOf(file) {
  const copy = `${file}.${Math.random().toString(16).slice(2)}`;
  fs.copyFileSync(file, copy);
  return copy;
}
const obj = (st, kind, name) => st.objects[m.key(kind, 'ecommerce', name)];
const liveColour = (st) => obj(st, 'Service', 'order-service').spec.selector.version;
const imageOf = (d) => d.spec.template.spec.containers[0].image;

function run(script, args, file, extraEnv) {
  return c.run(script, args, {cwd: c.ROOT, env: Object.assign({}, process.env, {
    KUBECTL: kubectl, KUBECTL_DOUBLE_STATE: file, PLEXUS_JS_YAML: jsYaml, PLEXUS_DEPLOY_TIMEOUT: '5',
    PLEXUS_DEPLOY_WORK: path.join(dir, 'work')}, extraEnv || {})});
}
const log = [];
function step(label, args, file, want, extraEnv, script) {
  const before = load(file).calls.length;
  const t0 = Date.now();
  const res = run(script || DEPLOY, args, file, extraEnv);
  log.push(`${label}: ${load(file).calls.length - before} kubectl calls, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const okStatus = want === 0 ? res.status === 0 : res.status !== 0;
  r.expect(okStatus, label, `scripts/deploy ${args.join(' ')}: exit ${res.status}, expected ${want === 0 ? 0 : 'a failure'}\n${(res.stdout || '').slice(-1500)}${(res.stderr || '').slice(-1500)}`);
  const st = load(file);
  for (const v of st.violations) r.fail(label, v);
  st.violations.length = 0;
  fs.writeFileSync(file, JSON.stringify(st));
  return res;
}
function allRunning(label, st) {
  for (const o of Object.values(st.objects)) {
    if (o.kind === 'Job') r.expect(o.status && o.status.complete, label, `Job ${o.metadata.name} did not complete: ${(o.status || {}).blocked}`);
    if (o.kind === 'Deployment' && (o.spec.replicas === undefined || o.spec.replicas > 0)) {
      r.expect(o.status && o.status.readyReplicas > 0, label, `Deployment ${o.metadata.name} not ready: ${(o.status || {}).blocked}`);
    }
  }
}

// `releases` (1-2), `failures` (3-4), or both (default).
const part = process.argv[2] || 'all';
let file;
let st;
let installed;

function releases() {
// 1. A first install of production, order-service released blue-green; then an upgrade after the
//    HPA scaled the live colour; an in-place hotfix; a rollback.
file = freshCluster();
step('install production', ['production', 'apply', '--image', image('production', 'aaaaaaa')], file, 0);
installed = copyOf(file);
st = load(file);
allRunning('install production', st);
r.expect(obj(st, 'RabbitmqCluster', 'rabbitmq') && obj(st, 'Job', 'postgres-roles'), 'install production', 'no broker or no PostgreSQL roles Job');
r.expect(liveColour(st) === 'green' && obj(st, 'Service', 'order-service-preview').spec.selector.version === 'blue',
         'install production', `traffic should be on green (deployed to the idle colour, then switched), preview on blue; got ${liveColour(st)}`);
const firstHost = st.calls.findIndex((x) => x.startsWith('apply') && x.includes('app.kubernetes.io/component=host'));
const lastMigrate = st.calls.map((x) => x.startsWith('wait --for=condition=complete')).lastIndexOf(true);
r.expect(lastMigrate >= 0 && firstHost > lastMigrate, 'install production', 'the migrations must complete before the host Deployments are applied');

run(kubectl, ['--namespace', 'ecommerce', 'x-hpa-scale', 'order-service-green', '5'], file);
step('upgrade production (blue-green)', ['production', 'apply', '--image', image('production', 'bbbbbbb')], file, 0);
st = load(file);
allRunning('upgrade production', st);
r.expect(liveColour(st) === 'blue' && imageOf(obj(st, 'Deployment', 'order-service-blue')).endsWith(':bbbbbbb'),
         'upgrade production', 'order-service traffic should have moved to blue running bbbbbbb');
r.expect(obj(st, 'Deployment', 'order-service-blue').spec.replicas === 5, 'upgrade production',
         `the new colour should start with as many replicas as the live one had (5), got ${obj(st, 'Deployment', 'order-service-blue').spec.replicas}`);
r.expect(imageOf(obj(st, 'Deployment', 'order-service-green')).endsWith(':aaaaaaa'), 'upgrade production',
         'the previous colour must keep the previous image (the rollback target)');
r.expect(imageOf(obj(st, 'Deployment', 'customer-service')).endsWith(':bbbbbbb'), 'upgrade production', 'customer-service not upgraded');

step('hotfix in place', ['production', 'apply', '--order-service', 'in-place', '--image', image('production', 'ccccccc')], file, 0);
st = load(file);
r.expect(liveColour(st) === 'blue' && imageOf(obj(st, 'Deployment', 'order-service-blue')).endsWith(':ccccccc') &&
         imageOf(obj(st, 'Deployment', 'order-service-green')).endsWith(':aaaaaaa'), 'hotfix in place',
         'in place: the live colour runs ccccccc, traffic stays, the idle colour is left alone');

step('rollback production', ['production', 'rollback'], file, 0);
st = load(file);
r.expect(imageOf(obj(st, 'Deployment', 'customer-service')).endsWith(':bbbbbbb'), 'rollback production',
         'customer-service should be back on the previous image');
r.expect(liveColour(st) === 'green', 'rollback production', 'order-service traffic should be back on the previous colour');

// 2. A release whose pods never get ready (from the cluster as the first install left it): the
//    deploy fails, traffic does not move.
file = copyOf(installed);
step('release that never gets ready', ['production', 'apply', '--image', image('production', 'deadbee')], file, 1,
     {KUBECTL_DOUBLE_BROKEN: 'deadbee'});
st = load(file);
r.expect(liveColour(st) === 'green' && imageOf(obj(st, 'Deployment', 'order-service-green')).endsWith(':aaaaaaa'),
         'release that never gets ready', 'traffic must stay on the colour that worked');

}

function failures() {
// 3. Staging, order-service in place from the first install.
file = freshCluster();
step('install staging (in place)', ['staging', 'apply', '--order-service', 'in-place', '--image', image('staging', 'aaaaaaa')], file, 0);
allRunning('install staging', load(file));

// 4. The replay can fail: the sequence of the old workflow (step 1 skipped every object labelled
//    plexus-host, the ServiceAccounts too), a Role without `delete` on Jobs, a missing CRD, and a
//    deploy that re-applies what scripts/blue-green owns.
function variant(label, edit) {
  const copy = path.join(dir, `deploy-${label.replace(/\W+/g, '-')}`);
  const text = fs.readFileSync(DEPLOY, 'utf8');
  const changed = edit(text);
  if (!r.expect(changed !== text, label, 'the variant did not change scripts/deploy (the test is stale)')) return null;
  // The copy runs from the temporary directory: point it at the tree for ROOT and the sourced helpers.
  const rooted = changed
    .replace('ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)', `ROOT=${c.ROOT}`)
    .replace('source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"', `source "${c.ROOT}/scripts/lib/common.sh"`);
  fs.writeFileSync(copy, rooted, {mode: 0o755});
  return copy;
}
const oldSelector = variant('old step 1', (t) => t.replace(
    "-l 'app.kubernetes.io/component notin (host,migrate,db-bootstrap),plexus.dev/owned-by notin (blue-green)'",
    "-l 'app.kubernetes.io/name!=plexus-host,app.kubernetes.io/component notin (db-bootstrap),plexus.dev/owned-by notin (blue-green)'"));
if (oldSelector) {
  const res = step('old step 1 must fail', ['production', 'apply', '--image', image('production', 'aaaaaaa')], freshCluster(), 1, {}, oldSelector);
  r.expect(/ServiceAccount [a-z-]+ \(serviceAccountName\) not found/.test(res.stderr), 'old step 1 must fail',
           `the failure should name the missing ServiceAccount: ${res.stderr.slice(-400)}`);
}
const noDelete = freshCluster({edit: (s) => {
  for (const rule of s.rbac.role) if (rule.resources.includes('jobs')) rule.verbs = rule.verbs.filter((v) => v !== 'delete');
}});
const rbacRes = step('RBAC without job delete must fail', ['production', 'apply', '--image', image('production', 'aaaaaaa')], noDelete, 1);
r.expect(/forbidden/.test(rbacRes.stderr), 'RBAC without job delete must fail', 'the failure should be a forbidden call');
const noCrd = freshCluster({edit: (s) => {
  s.crds = s.crds.filter((x) => x !== 'rabbitmqclusters.rabbitmq.com');
}});
const crdRes = step('a missing operator must fail', ['production', 'apply', '--image', image('production', 'aaaaaaa')], noCrd, 1);
r.expect(/missing CRDs: rabbitmqclusters.rabbitmq.com/.test(crdRes.stderr), 'a missing operator must fail', 'the failure should name the CRD');
const reapply = variant('deploy re-applies blue-green objects', (t) => t.replace(
    "-l 'app.kubernetes.io/component notin (host,migrate,db-bootstrap),plexus.dev/owned-by notin (blue-green)'",
    "-l 'app.kubernetes.io/component notin (host,migrate,db-bootstrap)'"));
if (reapply) {
  // After a first install traffic is on green, where the manifests say blue.
  file = freshCluster();
  run(DEPLOY, ['production', 'apply', '--image', image('production', 'aaaaaaa')], file);
  run(reapply, ['production', 'apply', '--image', image('production', 'bbbbbbb')], file);
  st = load(file);
  r.expect(st.violations.some((v) => /selector of Service order-service/.test(v)), 'deploy re-applies blue-green objects',
           `re-applying the order-service Service after a switch must be reported: ${st.violations}`);
}

}

require(DOUBLE).startDouble(dir).then((double) => {
  kubectl = double.kubectl;
  try {
    if (part === 'all' || part === 'releases') releases();
    if (part === 'all' || part === 'failures') failures();
  } finally {
    double.stop();
  }
  fs.rmSync(dir, {recursive: true, force: true});
  process.stdout.write(log.map((l) => `  ${l}\n`).join(''));
  r.finish(`${log.length} sequences replayed`);
});
