#!/usr/bin/env node
'use strict';
// A stand-in for kubectl in deploy.blue-green: there is no Kubernetes API server on this machine,
// so this keeps a tiny cluster (the order-service Service, its blue/green Deployments and Jobs)
// in a JSON file (KUBECTL_DOUBLE_STATE) and answers the few kubectl calls scripts/blue-green
// makes. Its "controller" makes a rollout ready unless the image name contains "broken", and a
// migrate Job complete unless its image contains "badmigration". `kustomize` runs the real
// kubectl. Every call is appended to state.calls so the test can assert what was (not) done.
const fs = require('fs');
const {spawnSync} = require('child_process');

const stateFile = process.env.KUBECTL_DOUBLE_STATE;
if (!stateFile) {
  process.stderr.write('kubectl-double: KUBECTL_DOUBLE_STATE is not set\n');
  process.exit(2);
}
const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
const save = () => fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));

let argv = process.argv.slice(2);
const global = {};
for (const opt of ['--namespace', '--context']) {
  const i = argv.indexOf(opt);
  if (i >= 0) {
    global[opt] = argv[i + 1];
    argv.splice(i, 2);
  }
}
state.calls.push(argv.join(' '));
save();

function die(msg, code) {
  process.stderr.write(`Error from server (double): ${msg}\n`);
  process.exit(code || 1);
}
function opt(name) {
  const a = argv.find((x) => x.startsWith(`${name}=`));
  if (a) return a.slice(name.length + 1);
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
function object(ref) {
  const [kind, name] = ref.split('/');
  const map = {deployment: 'deployments', service: 'services', job: 'jobs'};
  const obj = (state[map[kind]] || {})[name];
  if (!obj) die(`${kind} "${name}" not found`);
  return obj;
}
// jsonpath of the form {.a.b[0].c} with "\." for a dot inside a key.
function jsonpath(obj, expr) {
  const body = expr.replace(/^jsonpath=/, '').replace(/^\{|\}$/g, '').replace(/^\./, '');
  const keys = body.split(/(?<!\\)\./).map((k) => k.replace(/\\\./g, '.'));
  let v = obj;
  for (const k of keys) {
    const m = k.match(/^(.+?)\[(\d+)\]$/);
    v = v === undefined || v === null ? undefined : (m ? (v[m[1]] || [])[Number(m[2])] : v[k]);
  }
  return v === undefined || v === null ? '' : String(v);
}
function merge(into, patch) {
  for (const [k, v] of Object.entries(patch)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) into[k] = merge(into[k] || {}, v);
    else into[k] = v;
  }
  return into;
}
function notReady(dep) {
  dep.status = {readyReplicas: 0, updatedReplicas: 0};
}

const [verb, ...rest] = argv;
switch (verb) {
  case 'get': {
    const obj = object(`${rest[0]}/${rest[1]}`);
    process.stdout.write(jsonpath(obj, opt('-o')));
    break;
  }
  case 'set': {  // set image deployment/NAME container=IMAGE
    const dep = object(rest[1]);
    const [container, image] = rest[2].split('=');
    const c = dep.spec.template.spec.containers.find((x) => x.name === container);
    if (!c) die(`unable to find container named "${container}"`);
    c.image = image;
    notReady(dep);
    break;
  }
  case 'scale': {
    const dep = object(rest[0]);
    dep.spec.replicas = Number(opt('--replicas'));
    notReady(dep);
    break;
  }
  case 'rollout': {  // rollout status deployment/NAME
    const dep = object(rest[1]);
    if (dep.spec.template.spec.containers[0].image.includes('broken')) {
      save();
      die(`deployment "${dep.metadata.name}" exceeded its progress deadline`);
    }
    dep.status = {readyReplicas: dep.spec.replicas, updatedReplicas: dep.spec.replicas};
    process.stdout.write(`deployment "${dep.metadata.name}" successfully rolled out\n`);
    break;
  }
  case 'patch': {  // patch service NAME --type=merge -p JSON
    const svc = object(`${rest[0]}/${rest[1]}`);
    if (opt('--type') !== 'merge') die('only --type=merge is modelled');
    merge(svc, JSON.parse(opt('-p')));
    break;
  }
  case 'apply': {  // apply -f - (one Job)
    const text = fs.readFileSync(0, 'utf8');
    const name = (text.match(/^ {2}name: (.+)$/m) || [])[1];
    const image = (text.match(/^ +image: (.+)$/m) || [])[1];
    if (!/^kind: Job$/m.test(text) || !name || !image) die('the double applies exactly one Job');
    state.jobs[name] = {text, image, complete: !image.includes('badmigration')};
    process.stdout.write(`job.batch/${name} created\n`);
    break;
  }
  case 'wait': {  // wait --for=condition=complete job/NAME
    const job = object(rest.find((x) => x.startsWith('job/')));
    if (!job.complete) die('timed out waiting for the condition');
    break;
  }
  case 'logs':
    process.stdout.write('migrate failed (double)\n');
    break;
  case 'kustomize': {
    // stdio inherited: a large write to a pipe followed by process.exit() could be cut short.
    const r = spawnSync(process.env.KUBECTL_REAL || 'kubectl', ['kustomize', ...rest], {stdio: 'inherit'});
    process.exit(r.status === null ? 1 : r.status);
  }
  // falls through (unreachable: exit above)
  default:
    die(`the double does not model "kubectl ${argv.join(' ')}"`, 3);
}
save();
