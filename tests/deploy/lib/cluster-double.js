#!/usr/bin/env node
'use strict';
// A stand-in for kubectl (there is no API server here) with a model of a cluster behind it, for
// the replay of scripts/deploy and scripts/blue-green (check-rehearsal.js). The "cluster" is a JSON
// file (KUBECTL_DOUBLE_STATE): the installed CRDs, the objects, and what controllers did. After
// every change the controllers of cluster-model.js run: a workload's pods start only when
// everything they reference exists (ServiceAccount, ConfigMaps, Secrets and keys, PVCs,
// SecretProviderClasses, PriorityClass); the operators make their Secrets, Services and pods; the
// CSI driver syncs Secrets for pods that mount a class. What cannot start is reported where a
// real cluster would make it visible: `wait` on a Job, `rollout status`, the RabbitmqCluster.
// With state.rbac, every call is checked against the Role and ClusterRole the pipeline identity
// gets (kustomize/bootstrap): a call they do not allow is "forbidden".
// Faults for tests: an image containing "broken" (or KUBECTL_DOUBLE_BROKEN) never gets ready;
// "badmigration" fails its Job.
// Run as kubectl itself, or (faster: one process for every call) as a server on a loopback port
// that lib/cluster-double-client.sh forwards calls to (startServer below).
const fs = require('fs');
const {spawnSync} = require('child_process');
const m = require('./cluster-model');

const rendered = new Map();

class Exit extends Error {
  constructor(code) {
    super(`exit ${code}`);
    this.code = code;
  }
}
let state;
let argv;
let namespace;
let stdinText;
let env;
let out;
let err;
const save = (file) => fs.writeFileSync(file, JSON.stringify(state, null, 1));

function die(msg, code) {
  err += `Error from server (double): ${msg}\n`;
  throw new Exit(code || 1);
}
function opt(name) {
  const a = argv.find((x) => x.startsWith(`${name}=`));
  if (a) return a.slice(name.length + 1);
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
const positional = () => {
  const res = [];
  for (let i = 1; i < argv.length; i++) {
    if (argv[i].startsWith('-')) {
      if (!argv[i].includes('=') && ['-f', '-l', '-o', '-p', '--type', '--timeout', '--for', '--replicas', '--tail', '--raw'].includes(argv[i])) i++;
      continue;
    }
    res.push(argv[i]);
  }
  return res;
};

// ---- object access ----
const KINDS = {deployment: 'Deployment', deployments: 'Deployment', service: 'Service', job: 'Job', jobs: 'Job',
               configmap: 'ConfigMap', namespace: 'Namespace', crd: 'CustomResourceDefinition', rabbitmqcluster: 'RabbitmqCluster',
               serviceaccount: 'ServiceAccount', secret: 'Secret', pod: 'Pod', hpa: 'HorizontalPodAutoscaler'};
const kindOf = (word) => KINDS[word.toLowerCase()] || die(`the double does not know resource type "${word}"`, 3);
const nsFor = (kind) => (['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'PriorityClass'].includes(kind) ? undefined : namespace);
function get(kind, ns, name) {
  return state.objects[m.key(kind, ns, name)] || null;
}
function all(kind, ns) {
  return Object.values(state.objects).filter((o) => o.kind === kind && (ns === undefined || o.metadata.namespace === ns));
}
function selectorMatches(sel, labels) {
  // kubectl -l: k=v, k!=v, k in (a,b), k notin (a,b), joined by commas outside parentheses.
  const parts = [];
  let depth = 0;
  let cur = '';
  for (const ch of sel) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  labels = labels || {};
  return parts.every((p) => {
    p = p.trim();
    let r;
    if ((r = p.match(/^(\S+)\s+notin\s+\(([^)]*)\)$/))) return !r[2].split(',').map((s) => s.trim()).includes(labels[r[1]]);
    if ((r = p.match(/^(\S+)\s+in\s+\(([^)]*)\)$/))) return r[2].split(',').map((s) => s.trim()).includes(labels[r[1]]);
    if ((r = p.match(/^([^!=]+)!=(.*)$/))) return labels[r[1]] !== r[2];
    if ((r = p.match(/^([^=]+)==?(.*)$/))) return labels[r[1]] === r[2];
    return Object.prototype.hasOwnProperty.call(labels, p);
  });
}

// ---- RBAC of the pipeline identity ----
function allowed(verb, kind, ns) {
  if (!state.rbac) return true;
  const info = kind === 'CustomResourceDefinition' ? {group: 'apiextensions.k8s.io', plural: 'customresourcedefinitions'}
    : kind === 'services/proxy' ? {group: '', plural: 'services/proxy'}
      : kind === 'pods/log' ? {group: '', plural: 'pods/log'}
        : kind === 'deployments/scale' ? {group: 'apps', plural: 'deployments/scale'}
          : kind === 'ReplicaSet' ? {group: 'apps', plural: 'replicasets'}
            : m.kindInfo(apiVersionOf(kind), kind, state.crds);
  if (!info) return true;  // unknown kinds fail later, with the API server's message
  const rules = ns ? state.rbac.role : state.rbac.clusterRole;
  return rules.some((r) => (r.apiGroups || []).includes(info.group) && (r.resources || []).includes(info.plural) &&
                           ((r.verbs || []).includes(verb) || (r.verbs || []).includes('*')));
}
function apiVersionOf(kind) {
  for (const [av, kinds] of Object.entries(m.BUILTIN)) if (kinds[kind]) return av;
  for (const c of Object.values(m.PREREQUISITE_CRDS)) if (c.kind === kind) return c.apiVersion;
  return '';
}
function authorize(verb, kind, ns) {
  if (!allowed(verb, kind, ns)) {
    die(`forbidden: the pipeline identity cannot ${verb} ${kind}${ns ? ` in namespace ${ns}` : ' (cluster scope)'} (kustomize/bootstrap/rbac.yaml)`);
  }
}

// ---- controllers ----
function reconcile() {
  // Operators and cert-manager: what they make, until nothing new appears.
  for (let round = 0; round < 5; round++) {
    let added = 0;
    for (const o of Object.values(state.objects)) {
      if (o.generatedBy) continue;
      for (const p of m.produced(o, get)) {
        const k = m.keyOf(p);
        if (!state.objects[k]) {
          p.generatedBy = m.keyOf(o);
          state.objects[k] = p;
          added++;
        }
      }
    }
    if (!added) break;
  }
  // Pods: which workloads can run; the Secrets the CSI driver syncs for running pods feed others.
  const workloads = Object.values(state.objects).filter((o) => m.templateOf(o) && o.kind !== 'Pod');
  let synced = [];
  for (let round = 0; round < 4; round++) {
    const next = [];
    for (const w of workloads) {
      const t = m.templateOf(w);
      w.status = w.status || {};
      const missing = m.missingForPod(t, w.metadata.namespace, get, synced);
      w.status.blocked = missing;
      const wanted = w.kind === 'Job' ? 1 : (w.spec.replicas === undefined ? 1 : w.spec.replicas);
      if (!missing.length && wanted > 0) next.push(...m.syncedSecrets(t, w.metadata.namespace, get));
    }
    synced = next;
  }
  for (const w of workloads) {
    const img = ((m.templateOf(w).spec.containers || [])[0] || {}).image || '';
    if (w.kind === 'Job') {
      w.status.complete = !w.status.blocked.length && !img.includes('badmigration');
      continue;
    }
    const replicas = w.spec.replicas === undefined ? 1 : w.spec.replicas;
    const broken = env.KUBECTL_DOUBLE_BROKEN;
    const ok = !w.status.blocked.length && !img.includes('broken') && !(broken && img.includes(broken));
    w.status.readyReplicas = ok ? replicas : 0;
    w.status.updatedReplicas = ok ? replicas : 0;
  }
  for (const r of all('RabbitmqCluster')) {
    const sts = get('StatefulSet', r.metadata.namespace, `${r.metadata.name}-server`);
    r.status = {ready: !!sts && !sts.status.blocked.length, blocked: sts ? sts.status.blocked : ['no StatefulSet']};
  }
}

// ---- apply ----
function loadDocs(file) {
  const text = file === '-' ? stdinText : fs.readFileSync(file, 'utf8');
  return require(env.PLEXUS_JS_YAML).loadAll(text).filter(Boolean);
}
function applyObject(o) {
  if (o.kind === 'CustomResourceDefinition') die('the pipeline never installs CRDs (prerequisites)');
  const info = m.kindInfo(o.apiVersion, o.kind, state.crds);
  if (!info) die(`resource mapping not found for kind "${o.kind}" in version "${o.apiVersion}": ensure CRDs are installed first`);
  const ns = info.namespaced ? (o.metadata.namespace || namespace) : undefined;
  if (info.namespaced) {
    o.metadata.namespace = ns;
    if (!get('Namespace', undefined, ns)) die(`namespaces "${ns}" not found`);
  }
  const k = m.keyOf(o);
  const old = state.objects[k];
  authorize(old ? 'patch' : 'create', o.kind, ns);
  if (old) {
    // Client-side apply: what the manifest has wins; what it leaves out stays.
    const hpa = all('HorizontalPodAutoscaler', ns).find((h) => h.spec.scaleTargetRef.name === o.metadata.name);
    if (o.kind === 'Deployment' && hpa && o.spec.replicas !== undefined && o.spec.replicas !== old.spec.replicas) {
      state.violations.push(`apply reset Deployment ${o.metadata.name} to ${o.spec.replicas} replicas; its HPA ${hpa.metadata.name} had scaled it to ${old.spec.replicas}`);
    }
    if (o.kind === 'Service' && (old.metadata.labels || {})['plexus.dev/owned-by'] === 'blue-green' &&
        JSON.stringify(o.spec.selector) !== JSON.stringify(old.spec.selector)) {
      state.violations.push(`apply reset the selector of Service ${o.metadata.name}, which scripts/blue-green owns (${JSON.stringify(old.spec.selector)} -> ${JSON.stringify(o.spec.selector)})`);
    }
    if (o.kind === 'Job' && JSON.stringify(o.spec.template) !== JSON.stringify(old.spec.template)) {
      die(`Job.batch "${o.metadata.name}" is invalid: spec.template: field is immutable`);
    }
    const merged = Object.assign({}, old, o, {status: old.status});
    if (o.spec && old.spec && o.spec.replicas === undefined && old.spec.replicas !== undefined) merged.spec = Object.assign({}, o.spec, {replicas: old.spec.replicas});
    if (merged.kind === 'Deployment' && old.spec.template && JSON.stringify(old.spec.template) !== JSON.stringify(o.spec.template)) {
      merged.history = (old.history || []).concat([old.spec.template]);
    }
    state.objects[k] = merged;
    out += (`${o.kind.toLowerCase()}/${o.metadata.name} configured\n`);
  } else {
    // The API server's default: a Deployment created without replicas runs one.
    if (o.kind === 'Deployment' && o.spec.replicas === undefined) o.spec.replicas = 1;
    state.objects[k] = o;
    out += (`${o.kind.toLowerCase()}/${o.metadata.name} created\n`);
  }
}

function jsonpath(obj, expr) {
  const body = expr.replace(/^jsonpath=/, '').replace(/^\{|\}$/g, '').replace(/^\./, '');
  const keys = body.split(/(?<!\\)\./).map((x) => x.replace(/\\\./g, '.'));
  let v = obj;
  for (const kk of keys) {
    const r = kk.match(/^(.+?)\[(\d+)\]$/);
    v = v === undefined || v === null ? undefined : (r ? (v[r[1]] || [])[Number(r[2])] : v[kk]);
  }
  return v === undefined || v === null ? '' : String(v);
}
function merge(into, patch) {
  for (const [kk, v] of Object.entries(patch)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) into[kk] = merge(into[kk] || {}, v);
    else into[kk] = v;
  }
  return into;
}
function ref(word) {
  const [kind, name] = word.split('/');
  return {kind: kindOf(kind.replace(/\.(apps|batch)$/, '')), name};
}

function command() {
const [verb] = argv;
const pos = positional();
switch (verb) {
  case 'kustomize': {
    // The tree does not change during a test: one real render per directory per server.
    const k = argv.join('\0');
    if (!rendered.has(k)) rendered.set(k, spawnSync(env.KUBECTL_REAL || 'kubectl', argv, {encoding: 'utf8', maxBuffer: 64 << 20}));
    const r = rendered.get(k);
    out += r.stdout;
    err += r.stderr;
    if (r.status !== 0) throw new Exit(r.status === null ? 1 : r.status);
    return;
  }
  case 'get': {
    if (opt('--raw')) {
      const r = opt('--raw').match(/^\/api\/v1\/namespaces\/([^/]+)\/services\/([^:/]+)(?::[^/]+)?\/proxy(\/.*)$/);
      if (!r) die(`the double does not model GET ${opt('--raw')}`, 3);
      authorize('get', 'services/proxy', r[1]);
      const svc = get('Service', r[1], r[2]);
      if (!svc) die(`services "${r[2]}" not found`);
      const ready = all('Deployment', r[1]).filter((d) => m.templateOf(d) && require('./common').selects(svc.spec.selector, d.spec.template.metadata.labels))
        .some((d) => d.status && d.status.readyReplicas > 0);
      if (!ready) die(`no endpoints available for service "${r[2]}"`, 1);
      out += ('{"status":"ready","checks":{"plugins":"ok"}}');
      break;
    }
    const kind = kindOf(pos[0]);
    authorize('get', kind, nsFor(kind));
    if (kind === 'CustomResourceDefinition') {
      if (!(state.crds || []).includes(pos[1])) die(`customresourcedefinitions.apiextensions.k8s.io "${pos[1]}" not found`);
      break;
    }
    if (opt('-l') !== undefined || pos.length === 1) {
      authorize('list', kind, nsFor(kind));
      const found = all(kind, nsFor(kind)).filter((o) => opt('-l') === undefined || selectorMatches(opt('-l'), o.metadata.labels));
      const prefix = {Deployment: 'deployment.apps', Job: 'job.batch'}[kind] || kind.toLowerCase();
      if (opt('-o') === 'name') out += (found.map((o) => `${prefix}/${o.metadata.name}\n`).join(''));
      break;
    }
    const o = get(kind, nsFor(kind), pos[1]);
    if (!o) die(`${kind.toLowerCase()}s "${pos[1]}" not found`);
    if (opt('-o') && opt('-o').startsWith('jsonpath=')) out += (jsonpath(o, opt('-o')));
    break;
  }
  case 'apply': {
    const docs = loadDocs(opt('-f'));
    const sel = opt('-l');
    for (const d of docs.filter((x) => sel === undefined || selectorMatches(sel, x.metadata.labels))) applyObject(d);
    break;
  }
  case 'delete': {  // delete job -l SEL --ignore-not-found
    const kind = kindOf(pos[0]);
    authorize('delete', kind, nsFor(kind));
    authorize('list', kind, nsFor(kind));
    for (const o of all(kind, nsFor(kind)).filter((x) => selectorMatches(opt('-l') || '', x.metadata.labels))) {
      delete state.objects[m.keyOf(o)];
    }
    break;
  }
  case 'wait': {
    const target = pos.find((x) => x.includes('/'));
    const {kind, name} = ref(target);
    authorize('get', kind, nsFor(kind));
    authorize('watch', kind, nsFor(kind));
    const o = get(kind, nsFor(kind), name);
    if (!o) die(`${kind.toLowerCase()}s "${name}" not found`);
    if (kind === 'Job' && !o.status.complete) {
      die(`timed out waiting for the condition on jobs/${name}${o.status.blocked.length ? `: its pods cannot be created: ${o.status.blocked.join('; ')}` : ': the Job failed'}`);
    }
    if (kind === 'RabbitmqCluster' && !o.status.ready) die(`timed out waiting for rabbitmqclusters/${name}: ${o.status.blocked.join('; ')}`);
    break;
  }
  case 'logs':
    authorize('get', 'pods/log', namespace);
    out += ('(double: no logs)\n');
    break;
  case 'rollout': {
    const {kind, name} = ref(pos[1]);
    const o = get(kind, namespace, name) || die(`deployments.apps "${name}" not found`);
    authorize('get', kind, namespace);
    authorize('list', 'ReplicaSet', namespace);
    if (pos[0] === 'status') {
      authorize('watch', kind, namespace);
      if (!o.status.readyReplicas && (o.spec.replicas === undefined || o.spec.replicas > 0)) {
        die(`deployment "${name}" exceeded its progress deadline${o.status.blocked.length ? `: ${o.status.blocked.join('; ')}` : ''}`);
      }
      out += (`deployment "${name}" successfully rolled out\n`);
    } else if (pos[0] === 'undo') {
      authorize('patch', kind, namespace);
      if (!(o.history || []).length) die(`no rollout history found for deployment "${name}"`);
      o.spec.template = o.history.pop();
      out += (`deployment.apps/${name} rolled back\n`);
    } else die(`the double does not model rollout ${pos[0]}`, 3);
    break;
  }
  case 'scale': {
    const {kind, name} = ref(pos[0]);
    authorize('patch', 'deployments/scale', namespace);
    const o = get(kind, namespace, name) || die(`deployments.apps "${name}" not found`);
    o.spec.replicas = Number(opt('--replicas'));
    break;
  }
  case 'patch': {
    const kind = kindOf(pos[0]);
    authorize('patch', kind, namespace);
    const o = get(kind, namespace, pos[1]) || die(`${pos[0]} "${pos[1]}" not found`);
    if (opt('--type') !== 'merge') die('only --type=merge is modelled', 3);
    merge(o, JSON.parse(opt('-p')));
    break;
  }
  case 'x-hpa-scale': {  // test hook: the HPA scaled a Deployment (not a kubectl command)
    const o = get('Deployment', namespace, pos[0]);
    o.spec.replicas = Number(pos[1]);
    break;
  }
  default:
    die(`the double does not model "kubectl ${argv.join(' ')}"`, 3);
}
}

// One kubectl call: argv without the program, its stdin, the caller's environment.
function handle(args, input, callerEnv) {
  env = callerEnv;
  stdinText = input;
  out = '';
  err = '';
  const file = env.KUBECTL_DOUBLE_STATE;
  if (!file) return {status: 2, stdout: '', stderr: 'cluster-double: KUBECTL_DOUBLE_STATE is not set\n'};
  state = JSON.parse(fs.readFileSync(file, 'utf8'));
  state.objects = state.objects || {};
  state.violations = state.violations || [];
  state.calls = state.calls || [];
  argv = args.slice();
  namespace = 'default';
  for (const o of ['--namespace', '-n', '--context']) {
    const i = argv.indexOf(o);
    if (i >= 0) {
      if (o !== '--context') namespace = argv[i + 1];
      argv.splice(i, 2);
    }
  }
  state.calls.push(argv.join(' '));
  let status = 0;
  try {
    reconcile();
    command();
    reconcile();
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    status = e.code;
  }
  if (argv[0] !== 'kustomize') save(file);
  return {status, stdout: out, stderr: err};
}

// A server on a loopback port: a request is "<n>\n" then n argument lines, "<env KEY=VALUE lines
// count>\n" and those lines, then "<stdin bytes>\n" and the bytes; the answer is "<exit>\n<stdout
// bytes>\n<stdout><stderr bytes>\n<stderr>".
function startServer() {
  const net = require('net');
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const text = buf.toString('latin1');
      const lines = [];
      let at = 0;
      const line = () => {
        const nl = text.indexOf('\n', at);
        if (nl < 0) return null;
        const l = text.slice(at, nl);
        at = nl + 1;
        lines.push(l);
        return l;
      };
      const n = line();
      if (n === null) return;
      const args = [];
      for (let i = 0; i < Number(n); i++) {
        const a = line();
        if (a === null) return;
        args.push(Buffer.from(a, 'latin1').toString('utf8'));
      }
      const e = line();
      if (e === null) return;
      const callerEnv = {};
      for (let i = 0; i < Number(e); i++) {
        const kv = line();
        if (kv === null) return;
        const eq = kv.indexOf('=');
        callerEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const len = line();
      if (len === null || buf.length < at + Number(len)) return;
      const input = buf.slice(at, at + Number(len)).toString('utf8');
      let res;
      try {
        res = handle(args, input, callerEnv);
      } catch (x) {
        res = {status: 70, stdout: '', stderr: `cluster-double crashed: ${x.stack}\n`};
      }
      const o = Buffer.from(res.stdout, 'utf8');
      const er = Buffer.from(res.stderr, 'utf8');
      sock.end(Buffer.concat([Buffer.from(`${res.status}\n${o.length}\n`), o, Buffer.from(`${er.length}\n`), er]));
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
}

// For the tests: starts the server and writes DIR/kubectl, which forwards to it. Resolves to
// {kubectl, stop}.
function startDouble(dir) {
  const {spawn} = require('child_process');
  const path = require('path');
  return new Promise((resolve, reject) => {
    const srv = spawn(process.execPath, [__filename, '--serve'], {stdio: ['ignore', 'pipe', 'inherit']});
    srv.on('error', reject);
    srv.stdout.once('data', (d) => {
      const port = String(d).trim();
      const kubectl = path.join(dir, 'kubectl');
      fs.writeFileSync(kubectl, `#!/bin/sh\nKUBECTL_DOUBLE_PORT=${port} exec bash "${path.join(__dirname, 'cluster-double-client.sh')}" "$@"\n`, {mode: 0o755});
      resolve({kubectl, stop: () => srv.kill()});
    });
  });
}

module.exports = {handle, startDouble};
if (require.main === module) {
  if (process.argv[2] === '--serve') {
    startServer();
  } else {
    const input = process.argv.includes('-') ? fs.readFileSync(0, 'utf8') : '';
    const res = handle(process.argv.slice(2), input, process.env);
    process.stdout.write(res.stdout);
    process.stderr.write(res.stderr);
    process.exitCode = res.status;
  }
}
