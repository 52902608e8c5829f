'use strict';
// Shared helpers of the deploy checks: paths, the npm tools in tools/node, rendering overlays
// with `kubectl kustomize`, and a failure collector that prints one line per problem.
const fs = require('fs');
const path = require('path');
const {execFileSync, spawnSync} = require('child_process');
const {createRequire} = require('module');

const ROOT = path.resolve(process.env.PLEXUS_ROOT || path.join(__dirname, '..', '..', '..'));
const KUSTOMIZE = path.join(ROOT, 'kustomize');
const OVERLAYS_DIR = path.join(KUSTOMIZE, 'overlays');

// The seven Deployments of DOMAIN.md with their replicas, and the Services the seed names.
const DEPLOYMENTS = {
  'order-service': {replicas: 3, service: 'order-service'},
  'customer-service': {replicas: 2, service: 'customer-service'},
  'inventory-worker': {replicas: 2, service: 'inventory-worker'},
  'payment-worker': {replicas: 2, service: 'payment-worker'},
  'shipping-worker': {replicas: 2, service: 'shipping-worker'},
  'notification-worker': {replicas: 2, service: 'notification-worker'},
  'analytics-worker': {replicas: 1, service: 'analytics-service'},
};
// Overlays that render the whole system (the per-Deployment overlays and blue-green are parts).
const SYSTEM_OVERLAYS = ['production', 'staging', 'dev', 'local'];

let toolsRequire = null;
function tool(name) {
  if (!toolsRequire) {
    const pkg = path.join(ROOT, 'tools', 'node', 'package.json');
    toolsRequire = createRequire(pkg);
  }
  try {
    return toolsRequire(name);
  } catch (e) {
    fatal(`npm package '${name}' is not installed in tools/node/node_modules ` +
          `(run scripts/setup, or: npm ci --prefix tools/node): ${e.message.split('\n')[0]}`);
  }
}
function toolRequire() {
  tool('js-yaml');
  return toolsRequire;
}

function fatal(msg) {
  process.stderr.write(`FAIL: ${msg}\n`);
  process.exit(1);
}

// Collects problems; finish() prints them (or the OK line) and sets the exit code.
class Report {
  constructor(name) {
    this.name = name;
    this.problems = [];
    this.checked = 0;
  }
  fail(where, msg) {
    this.problems.push(`${where}: ${msg}`);
  }
  ok() {
    this.checked++;
  }
  expect(cond, where, msg) {
    if (cond) this.ok(); else this.fail(where, msg);
    return !!cond;
  }
  finish(summary) {
    if (this.problems.length) {
      for (const p of this.problems) process.stderr.write(`FAIL: ${p}\n`);
      process.stderr.write(`${this.name}: ${this.problems.length} problem(s)\n`);
      process.exit(1);
    }
    process.stdout.write(`${this.name}: OK (${summary || `${this.checked} checks`})\n`);
  }
}

function listOverlays() {
  if (!fs.existsSync(OVERLAYS_DIR)) fatal(`no ${path.relative(ROOT, OVERLAYS_DIR)}/ directory`);
  return fs.readdirSync(OVERLAYS_DIR)
      .filter((d) => fs.existsSync(path.join(OVERLAYS_DIR, d, 'kustomization.yaml')))
      .sort();
}

function requireCommand(cmd, hint) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], {encoding: 'utf8'});
  if (r.status !== 0) fatal(`'${cmd}' not found on PATH: ${hint}`);
}

const renderCache = new Map();
let treeHash = null;

// Hash of every file under kustomize/: rendered output is reused across the checks (each a
// separate ctest case) only while the sources are byte-for-byte the same.
function kustomizeHash() {
  if (treeHash) return treeHash;
  const crypto = require('crypto');
  const h = crypto.createHash('sha256');
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, {withFileTypes: true}).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) h.update(path.relative(KUSTOMIZE, p)).update('\0').update(fs.readFileSync(p)).update('\0');
    }
  };
  walk(KUSTOMIZE);
  treeHash = h.digest('hex').slice(0, 24);
  return treeHash;
}

// Renders overlays/<name> and returns its objects; throws with kustomize's message on failure.
// fresh: always run kubectl (deploy.render does); otherwise reuse a render of identical sources.
function render(name, fresh) {
  if (renderCache.has(name)) return renderCache.get(name);
  const cacheDir = path.join(require('os').tmpdir(), `plexus-deploy-render-${kustomizeHash()}`);
  const cacheFile = path.join(cacheDir, `${name}.yaml`);
  let out = null;
  if (!fresh && fs.existsSync(cacheFile)) out = fs.readFileSync(cacheFile, 'utf8');
  if (out === null) {
    requireCommand('kubectl', 'kubectl (with kustomize v5) renders the overlays; see docs/deploy.md');
    const dir = path.join(OVERLAYS_DIR, name);
    try {
      out = execFileSync('kubectl', ['kustomize', dir], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
                                                          maxBuffer: 64 << 20});
    } catch (e) {
      throw new Error(`kubectl kustomize ${path.relative(ROOT, dir)} failed: ${(e.stderr || e.message).trim()}`);
    }
    fs.mkdirSync(cacheDir, {recursive: true});
    const tmp = `${cacheFile}.${process.pid}`;
    fs.writeFileSync(tmp, out);
    fs.renameSync(tmp, cacheFile);
  }
  const yaml = tool('js-yaml');
  const docs = yaml.loadAll(out).filter((d) => d !== null && d !== undefined);
  renderCache.set(name, docs);
  return docs;
}

// Renders any kustomization directory (kustomize/bootstrap, a temporary one) without caching.
function renderPath(dir) {
  requireCommand('kubectl', 'kubectl (with kustomize v5) renders the overlays; see docs/deploy.md');
  let out;
  try {
    out = execFileSync('kubectl', ['kustomize', dir], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20});
  } catch (e) {
    throw new Error(`kubectl kustomize ${path.relative(ROOT, dir)} failed: ${(e.stderr || e.message).trim()}`);
  }
  return tool('js-yaml').loadAll(out).filter((d) => d !== null && d !== undefined);
}

function id(obj) {
  const ns = obj.metadata && obj.metadata.namespace ? `${obj.metadata.namespace}/` : '';
  return `${obj.kind} ${ns}${obj.metadata ? obj.metadata.name : '?'}`;
}

// Pod template of a workload object, or null.
function podSpecOf(obj) {
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(obj.kind)) {
    return obj.spec && obj.spec.template ? obj.spec.template : null;
  }
  if (obj.kind === 'CronJob') return obj.spec.jobTemplate.spec.template;
  return null;
}

function isHost(obj) {
  const t = podSpecOf(obj);
  return !!t && ((t.metadata || {}).labels || {})['app.kubernetes.io/name'] === 'plexus-host';
}

// Kubernetes label selector semantics (matchLabels + matchExpressions).
function selects(selector, labels) {
  if (!selector) return false;
  labels = labels || {};
  const ml = selector.matchLabels || (selector.matchExpressions ? {} : selector);
  for (const [k, v] of Object.entries(ml)) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions || []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

function run(cmd, args, opts) {
  return spawnSync(cmd, args, Object.assign({encoding: 'utf8', maxBuffer: 64 << 20}, opts || {}));
}

module.exports = {
  ROOT, KUSTOMIZE, OVERLAYS_DIR, DEPLOYMENTS, SYSTEM_OVERLAYS, tool, toolRequire, fatal, Report,
  listOverlays, render, renderPath, id, podSpecOf, isHost, selects, run, requireCommand,
};
