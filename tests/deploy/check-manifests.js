#!/usr/bin/env node
'use strict';
// Deploy-tier checks of the rendered Kustomize overlays. One check per invocation, each a ctest
// case (tests/deploy/CMakeLists.txt):
//   render   every overlay renders with `kubectl kustomize`; the system overlays hold the system
//   schema   every object validates against the Kubernetes 1.27 schemas (kubernetes-models) or,
//            for custom resources, the operators' CRD schemas (@kubernetes-models/prometheus-
//            operator, @kubernetes-models/cert-manager) or their API references
//            (tests/deploy/schemas: RabbitmqCluster, SecretProviderClass)
//   strict   unknown fields refused (ajv, additionalProperties false)
//   policy   security context, probes, resources, drain budget, labels, secrets, names, replicas
//   network  NetworkPolicies: default deny, and exactly what each workload's config needs
//   configs  each host's ConfigMap, with the environment its pod gets, passes `plexus-host check`
// The static rehearsal's rules and the replay of scripts/deploy are check-rules.js and
// check-rehearsal.js.
const fs = require('fs');
const os = require('os');
const path = require('path');
const c = require('./lib/common');
const m = require('./lib/cluster-model');

const CLOUD = ['production', 'staging'];

// Renders each overlay, or records why it did not render.
function renderAll(report, fresh, only) {
  const out = {};
  for (const o of only || c.listOverlays()) {
    try {
      out[o] = c.render(o, fresh);
    } catch (e) {
      report.fail(`overlays/${o}`, e.message);
    }
  }
  return out;
}
const systems = (r) => renderAll(r, false, c.SYSTEM_OVERLAYS);
const byKind = (docs, kind) => docs.filter((d) => d.kind === kind);
const base = (n) => n.replace(/-[a-z0-9]{10}$/, '');  // a generated name without its hash
const find = (docs, kind, n) => docs.find((d) => d.kind === kind && (d.metadata.name === n || (kind === 'ConfigMap' && base(d.metadata.name) === n)));
const instanceOf = (obj) => ((c.podSpecOf(obj).metadata || {}).labels || {})['app.kubernetes.io/instance'];
// The DeploymentParameters of an overlay (local-config: not in the render).
function parameters(o, name) {
  const file = path.join(c.OVERLAYS_DIR, o, name === 'azure' ? 'azure.yaml' : 'parameters.yaml');
  return fs.existsSync(file) ? c.tool('js-yaml').load(fs.readFileSync(file, 'utf8')).spec : null;
}

function render() {
  const r = new c.Report('deploy.render');
  const all = renderAll(r, true);
  for (const d of Object.keys(c.DEPLOYMENTS).concat(c.SYSTEM_OVERLAYS, ['blue-green'])) {
    r.expect(fs.existsSync(path.join(c.OVERLAYS_DIR, d, 'kustomization.yaml')), `overlays/${d}`,
             'missing (one overlay per Deployment of DOMAIN.md, blue-green, and production, staging, dev, local)');
  }
  for (const [o, docs] of Object.entries(all)) {
    r.expect(docs.length > 0, `overlays/${o}`, 'renders no objects');
    const seen = new Set();
    for (const d of docs) {
      const k = c.id(d);
      r.expect(!seen.has(k), `overlays/${o}`, `${k} rendered twice`);
      seen.add(k);
      r.expect(d.metadata && d.metadata.namespace === 'ecommerce' || ['Namespace', 'ClusterRole'].includes(d.kind),
               `overlays/${o}: ${k}`, 'not in namespace ecommerce');
    }
  }
  for (const o of c.SYSTEM_OVERLAYS) {
    const docs = all[o];
    if (!docs) continue;
    const where = `overlays/${o}`;
    const cloud = CLOUD.includes(o);
    const deps = byKind(docs, 'Deployment').filter(c.isHost).map((d) => d.metadata.name);
    for (const dep of Object.keys(c.DEPLOYMENTS)) {
      const names = cloud && dep === 'order-service' ? ['order-service-blue', 'order-service-green'] : [dep];
      for (const n of names) r.expect(deps.includes(n), where, `no host Deployment ${n}`);
      r.expect(!!find(docs, 'Service', c.DEPLOYMENTS[dep].service), where, `no Service ${c.DEPLOYMENTS[dep].service}`);
      r.expect(!!find(docs, 'Job', `${dep}-migrate`), where, `no migrate Job ${dep}-migrate`);
      const cm = find(docs, 'ConfigMap', `${dep}-config`);
      r.expect(cm && cm.metadata.name !== `${dep}-config`, where, `no hash-suffixed ConfigMap ${dep}-config (a config change must roll the pods)`);
    }
    for (const kind of ['PodDisruptionBudget', 'NetworkPolicy']) r.expect(byKind(docs, kind).length > 0, where, `no ${kind}`);
    if (cloud) {
      r.expect(!find(docs, 'Namespace', 'ecommerce'), where, 'the namespace comes from kustomize/bootstrap (the pipeline cannot create it)');
      for (const kind of ['RabbitmqCluster', 'Ingress', 'ServiceMonitor', 'PrometheusRule']) r.expect(byKind(docs, kind).length === 1, where, `expected one ${kind}`);
      r.expect(byKind(docs, 'HorizontalPodAutoscaler').length === 2, where, 'expected an HPA per order-service colour');
      r.expect(!!find(docs, 'Service', 'order-service-preview'), where, 'no order-service-preview Service');
      r.expect(!!find(docs, 'Job', 'postgres-roles'), where, 'no postgres-roles Job');
      r.expect(byKind(docs, 'SecretProviderClass').length >= 7, where, 'expected a SecretProviderClass per Deployment');
      r.expect(!!find(docs, 'ConfigMap', 'plexus-dashboard') && !!find(docs, 'Deployment', 'otel-collector'), where, 'no dashboard or collector');
    } else {
      for (const s of ['postgresql', 'rabbitmq']) r.expect(!!find(docs, 'Deployment', s), where, `no in-cluster ${s}`);
      r.expect(o !== 'dev' || !!find(docs, 'Namespace', 'ecommerce'), where, 'no Namespace ecommerce');
    }
    if (o === 'local') {
      const a = find(docs, 'Deployment', 'analytics-worker');
      r.expect(a && (a.spec.template.spec.initContainers || []).some((x) => x.name === 'install-order-audit'), where,
               'analytics-worker without the drop-in plugin example (components/drop-in-plugin)');
    }
  }
  r.finish(`${Object.keys(all).length} overlays rendered: ${Object.keys(all).join(', ')}`);
}

// ---- schemas ----

// Model class of a kind in kubernetes-models or the @kubernetes-models CRD packages, or null.
function modelFor(req, apiVersion, kind) {
  const {CRD_PACKAGES} = require('./lib/k8s-strict');
  const pkg = CRD_PACKAGES[apiVersion.split('/')[0]] || 'kubernetes-models';
  try {
    return req(`${pkg}/${apiVersion}`)[kind] || null;
  } catch (e) {
    return null;
  }
}

// Custom resources without an npm package: fields from the operators' API references.
const HAND_SCHEMAS = {
  'rabbitmq.com/v1beta1/RabbitmqCluster': 'rabbitmqcluster.schema.json',
  'secrets-store.csi.x-k8s.io/v1/SecretProviderClass': 'secretproviderclass.schema.json',
};
function handSchema(ajv, d) {
  const f = HAND_SCHEMAS[`${d.apiVersion}/${d.kind}`];
  return f ? ajv.compile(JSON.parse(fs.readFileSync(path.join(__dirname, 'schemas', f), 'utf8'))) : null;
}

// kustomize folds long base64 Secret values over several lines; the API server's decoder skips
// the line breaks, the format check here does not.
function normalise(d) {
  if (d.kind !== 'Secret' || !d.data) return d;
  const data = Object.fromEntries(Object.entries(d.data).map(([k, v]) => [k, String(v).replace(/\s+/g, '')]));
  return Object.assign({}, d, {data});
}

// A SecretProviderClass's objects (a YAML string holding YAML strings) name each Key Vault
// secret, and every key it syncs comes from one of them.
function checkProviderObjects(r, where, spc) {
  const yaml = c.tool('js-yaml');
  let objects = [];
  try {
    objects = (yaml.load(spc.spec.parameters.objects).array || []).map((x) => yaml.load(x));
  } catch (e) {
    r.fail(where, `parameters.objects is not the provider's YAML: ${e.message}`);
    return;
  }
  const names = new Set();
  for (const ob of objects) {
    r.expect(ob.objectName && ['secret', 'key', 'cert'].includes(ob.objectType), where, `object ${JSON.stringify(ob)} needs objectName and objectType secret|key|cert`);
    names.add(ob.objectAlias || ob.objectName);
  }
  for (const so of spc.spec.secretObjects || []) {
    for (const d of so.data || []) r.expect(names.has(d.objectName), where, `secretObjects ${so.secretName}: key ${d.key} comes from ${d.objectName}, which objects does not fetch`);
  }
}

function schema() {
  const r = new c.Report('deploy.schema');
  const req = c.toolRequire();
  const Ajv = c.tool('ajv');
  const ajv = new Ajv({allErrors: true, strict: false});
  const all = renderAll(r);
  let n = 0;
  for (const [o, docs] of Object.entries(all)) {
    for (const d of docs) {
      const where = `overlays/${o}: ${c.id(d)}`;
      const hand = handSchema(ajv, d);
      if (hand) {
        if (!hand(d)) for (const e of hand.errors) r.fail(where, `${e.instancePath || '/'} ${e.message}${e.params.additionalProperty ? ` '${e.params.additionalProperty}'` : ''}`);
        else n++;
        if (d.kind === 'SecretProviderClass') checkProviderObjects(r, where, d);
        continue;
      }
      const Model = modelFor(req, d.apiVersion, d.kind);
      if (!r.expect(!!Model, where, `unknown kind ${d.apiVersion}/${d.kind} (neither Kubernetes 1.27, a @kubernetes-models CRD package, nor tests/deploy/schemas)`)) continue;
      try {
        new Model(normalise(d)).validate();
        r.ok();
        n++;
      } catch (e) {
        r.fail(where, e.message);
      }
    }
  }
  r.finish(`${n} objects valid against the Kubernetes, CRD and API-reference schemas`);
}

function strict() {
  const r = new c.Report('deploy.strict');
  const req = c.toolRequire();
  const Ajv = c.tool('ajv');
  const {StrictSchemas} = require('./lib/k8s-strict');
  const schemas = new StrictSchemas(req);
  const ajv = new Ajv({allErrors: true, strict: false});
  const compiled = new Map();
  const validator = (d) => {
    const k = `${d.apiVersion}/${d.kind}`;
    if (!compiled.has(k)) {
      let v = handSchema(ajv, d);
      if (!v) {
        const s = schemas.schemaFor(d.apiVersion, d.kind);
        v = s ? ajv.compile(JSON.parse(JSON.stringify(s))) : null;  // a snapshot of the definitions
      }
      compiled.set(k, v);
    }
    return compiled.get(k);
  };
  const annotations = ajv.compile(JSON.parse(
      fs.readFileSync(path.join(__dirname, 'schemas', 'ingress-annotations.schema.json'), 'utf8')));
  const all = renderAll(r);
  let n = 0;
  const report = (where, errors, prefix) => {
    for (const e of errors) {
      const extra = e.params && e.params.additionalProperty ? ` '${e.params.additionalProperty}'` : '';
      r.fail(where, `${prefix || ''}${e.instancePath || '/'} ${e.message}${extra}`);
    }
  };
  for (const [o, docs] of Object.entries(all)) {
    for (const d of docs) {
      const where = `overlays/${o}: ${c.id(d)}`;
      const v = validator(d);
      if (!v) {
        r.fail(where, `no strict schema for ${d.apiVersion}/${d.kind}`);
        continue;
      }
      if (!v(d)) report(where, v.errors);
      else n++;
      if (d.kind === 'Ingress' && !annotations(d.metadata.annotations || {})) report(where, annotations.errors, 'metadata.annotations');
    }
  }
  r.finish(`${n} objects without unknown fields`);
}

// ---- policy ----

const SECRET_ENV = /(PASSWORD|PASS|SECRET|TOKEN|CONNECTION_STRING|_URL)$/;
const DEFAULT_SHUTDOWN_DELAY_MS = 1000;
const DEFAULT_DRAIN_SECONDS = 20;
const CONFIG_PATH = '/etc/plexus/config/config.json';

// The host config a workload runs: its ConfigMap's config.json.
function configOf(docs, w) {
  const vol = (c.podSpecOf(w).spec.volumes || []).find((v) => v.name === 'config' && v.configMap);
  const cm = vol && docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === vol.configMap.name);
  if (!cm || !cm.data || !cm.data['config.json']) return null;
  return {name: cm.metadata.name, text: cm.data['config.json'], json: JSON.parse(cm.data['config.json'])};
}

function intOf(v, dflt) {
  if (v === undefined) return dflt;
  const mm = String(v).match(/^\$\{[A-Z0-9_]+:-(\d+)\}$/);
  return mm ? Number(mm[1]) : Number(v);
}

function preStopSeconds(container) {
  const ps = container.lifecycle && container.lifecycle.preStop;
  if (!ps) return null;
  if (ps.exec && ps.exec.command) {
    const cmd = ps.exec.command;
    if (/(^|\/)sleep$/.test(cmd[0]) && cmd.length === 2 && /^\d+$/.test(cmd[1])) return Number(cmd[1]);
  }
  return 0;
}

function checkPod(r, o, obj, opts) {
  const where = `overlays/${o}: ${c.id(obj)}`;
  const tpl = c.podSpecOf(obj);
  const spec = tpl.spec;
  const psc = spec.securityContext || {};
  r.expect(spec.automountServiceAccountToken === false, where, 'automountServiceAccountToken must be false');
  r.expect(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, where, 'host namespaces are not allowed');
  for (const v of spec.volumes || []) {
    r.expect(!v.hostPath, where, `volume ${v.name}: hostPath is not allowed`);
    // Secrets reach pods as env secretKeyRef; only a CA certificate may be mounted from a Secret,
    // and Key Vault through the CSI driver, read-only.
    if (v.secret) {
      r.expect((v.secret.items || []).length > 0 && v.secret.items.every((i) => /\.crt$/.test(i.key)), where,
               `volume ${v.name}: a Secret volume may only project certificates (items *.crt), not keys`);
    }
    r.expect(!(v.projected && (v.projected.sources || []).some((s) => s.secret)), where, `volume ${v.name}: no projected secrets`);
    if (v.csi) r.expect(v.csi.driver === 'secrets-store.csi.k8s.io' && v.csi.readOnly === true, where, `volume ${v.name}: only the read-only secrets-store CSI driver`);
  }
  for (const ct of (spec.initContainers || []).concat(spec.containers || [])) {
    const w = `${where} container ${ct.name}`;
    const sc = ct.securityContext || {};
    r.expect(sc.runAsNonRoot === true || (psc.runAsNonRoot === true && sc.runAsNonRoot !== false), w, 'runAsNonRoot must be true');
    r.expect(sc.runAsUser !== 0 && psc.runAsUser !== 0, w, 'must not run as uid 0');
    r.expect(sc.readOnlyRootFilesystem === true, w, 'readOnlyRootFilesystem must be true');
    r.expect(sc.allowPrivilegeEscalation === false, w, 'allowPrivilegeEscalation must be false');
    r.expect(sc.privileged !== true, w, 'privileged is not allowed');
    r.expect(((sc.capabilities && sc.capabilities.drop) || []).includes('ALL'), w, 'capabilities.drop must contain ALL');
    r.expect(!(sc.capabilities && sc.capabilities.add && sc.capabilities.add.length), w, 'capabilities.add is not allowed');
    r.expect((sc.seccompProfile || psc.seccompProfile || {}).type === 'RuntimeDefault', w, 'seccompProfile.type must be RuntimeDefault');
    const res = ct.resources || {};
    for (const k of ['cpu', 'memory']) {
      r.expect(res.requests && res.requests[k] !== undefined, w, `resources.requests.${k} missing`);
      r.expect(res.limits && res.limits[k] !== undefined, w, `resources.limits.${k} missing`);
    }
    if (opts.longRunning && (spec.containers || []).includes(ct)) {
      r.expect(!!ct.livenessProbe, w, 'no livenessProbe');
      r.expect(!!ct.readinessProbe, w, 'no readinessProbe');
    }
    r.expect(!(ct.envFrom || []).some((e) => e.secretRef), w, 'envFrom secretRef: use env secretKeyRef');
    for (const e of ct.env || []) {
      if (SECRET_ENV.test(e.name) || e.name === 'PGPASSWORD') {
        r.expect(!!(e.valueFrom && e.valueFrom.secretKeyRef), w, `env ${e.name} holds a secret: it must come from valueFrom.secretKeyRef`);
      }
    }
  }
}

const probeOf = (p) => (p && p.httpGet ? `${p.httpGet.path}@${p.httpGet.port}` : null);

function checkHost(r, o, obj, docs) {
  const where = `overlays/${o}: ${c.id(obj)}`;
  const tpl = c.podSpecOf(obj);
  const ct = tpl.spec.containers[0];
  const isJob = obj.kind === 'Job';
  const verb = isJob ? 'migrate' : 'run';
  r.expect(JSON.stringify(ct.args) === JSON.stringify([verb, '--config', CONFIG_PATH]), where,
           `args must be ["${verb}", "--config", "${CONFIG_PATH}"] (the ConfigMap), got ${JSON.stringify(ct.args)}`);
  const mount = (ct.volumeMounts || []).find((v) => v.name === 'config');
  r.expect(mount && mount.mountPath === path.dirname(CONFIG_PATH) && mount.readOnly === true, where,
           `the config volume must be mounted read-only at ${path.dirname(CONFIG_PATH)}`);
  const cfg = configOf(docs, obj);
  if (r.expect(!!cfg, where, 'its config volume names no rendered ConfigMap with config.json')) {
    r.expect(cfg.json.service === instanceOf(obj), where, `runs the config of ${cfg.json.service}, not of ${instanceOf(obj)}`);
  }
  const mounts = (ct.volumeMounts || []).map((v) => v.mountPath);
  for (const dir of ['/var/lib/plexus', '/tmp']) r.expect(mounts.includes(dir), where, `${dir} must be a writable volume (read-only root filesystem)`);
  const env = Object.fromEntries((ct.env || []).map((e) => [e.name, e]));
  for (const k of ['PLEXUS_PG_URL', 'PGPASSWORD']) {
    r.expect(!!(env[k] && env[k].valueFrom && env[k].valueFrom.secretKeyRef), where, `${k} must come from a secretKeyRef`);
  }
  const amqp = env.PLEXUS_AMQP_URL ? ['PLEXUS_AMQP_URL'] : ['PLEXUS_AMQP_USER', 'PLEXUS_AMQP_PASSWORD'];
  for (const k of amqp) r.expect(!!(env[k] && env[k].valueFrom && env[k].valueFrom.secretKeyRef), where, `${k} must come from a secretKeyRef`);
  if (isJob) return;
  const port = (name) => (ct.ports || []).find((p) => p.name === name);
  r.expect(port('http') && port('http').containerPort === 8080, where, 'container port http on 8080 expected');
  r.expect(port('management') && port('management').containerPort === 9090 && env.PLEXUS_MANAGEMENT_PORT &&
           env.PLEXUS_MANAGEMENT_PORT.value === '9090', where, 'container port management on 9090 and PLEXUS_MANAGEMENT_PORT=9090 expected');
  r.expect(probeOf(ct.startupProbe) === '/health@management', where, 'startupProbe must GET /health on port management');
  r.expect(probeOf(ct.livenessProbe) === '/health@management', where, 'livenessProbe must GET /health on port management');
  r.expect(probeOf(ct.readinessProbe) === '/health/ready@management', where, 'readinessProbe must GET /health/ready on port management');
  const pre = preStopSeconds(ct);
  r.expect(pre !== null, where, 'no preStop hook');
  if (cfg) {
    const http = cfg.json.http || {};
    const budget = (pre || 0) + intOf(http.shutdown_delay_ms, DEFAULT_SHUTDOWN_DELAY_MS) / 1000 + intOf(http.drain_seconds, DEFAULT_DRAIN_SECONDS);
    const grace = tpl.spec.terminationGracePeriodSeconds === undefined ? 30 : tpl.spec.terminationGracePeriodSeconds;
    r.expect(grace >= budget, where, `terminationGracePeriodSeconds ${grace} < drain budget ${budget} s (preStop + shutdown_delay_ms + drain_seconds of ${cfg.name})`);
  }
}

function policy() {
  const r = new c.Report('deploy.policy');
  const all = systems(r);
  for (const [o, docs] of Object.entries(all)) {
    const cloud = CLOUD.includes(o);
    const workloads = docs.filter((d) => c.podSpecOf(d));
    for (const w of workloads) {
      checkPod(r, o, w, {longRunning: w.kind !== 'Job'});
      if (c.isHost(w)) checkHost(r, o, w, docs);
    }
    const hosts = workloads.filter(c.isHost);
    const hostDeps = hosts.filter((d) => d.kind === 'Deployment');
    const images = new Set(hosts.map((d) => c.podSpecOf(d).spec.containers[0].image));
    r.expect(images.size === 1, `overlays/${o}`, `host workloads use ${images.size} images: ${[...images].join(', ')}`);
    // Replicas: DOMAIN.md's in staging and production (order-service: its HPAs' minimum), one in dev/local.
    for (const d of hostDeps) {
      const inst = instanceOf(d);
      const want = c.DEPLOYMENTS[inst];
      if (!r.expect(!!want, `overlays/${o}: ${c.id(d)}`, `instance label '${inst}' is not a Deployment of DOMAIN.md`)) continue;
      const hpa = byKind(docs, 'HorizontalPodAutoscaler').find((h) => h.spec.scaleTargetRef.name === d.metadata.name);
      const have = hpa ? hpa.spec.minReplicas : d.spec.replicas;
      r.expect(have === (cloud ? want.replicas : 1), `overlays/${o}: ${c.id(d)}`,
               `replicas ${have}${hpa ? ' (HPA minimum)' : ''}, expected ${cloud ? `${want.replicas} (DOMAIN.md)` : 1}`);
    }
    for (const s of docs.filter((d) => d.kind === 'Service' && (d.metadata.labels || {})['app.kubernetes.io/name'] === 'plexus-host')) {
      const where = `overlays/${o}: ${c.id(s)}`;
      const inst = (s.metadata.labels || {})['app.kubernetes.io/instance'];
      const seed = c.DEPLOYMENTS[inst] && c.DEPLOYMENTS[inst].service;
      r.expect(s.metadata.name === seed || s.metadata.name === 'order-service-preview', where, `Service of ${inst} must be named ${seed} (the seed's name)`);
      r.expect(s.spec.ports.some((p) => p.name === 'http' && p.port === 80 && p.targetPort === 'http'), where, 'port http 80 -> targetPort http expected');
      r.expect(s.spec.ports.some((p) => p.name === 'management' && p.targetPort === 'management'), where, 'port management -> targetPort management expected (the ServiceMonitor scrapes it)');
    }
    for (const d of hostDeps) {
      r.expect(docs.some((p) => p.kind === 'PodDisruptionBudget' && c.selects(p.spec.selector, c.podSpecOf(d).metadata.labels)),
               `overlays/${o}: ${c.id(d)}`, 'no PodDisruptionBudget selects its pods');
    }
    for (const h of byKind(docs, 'HorizontalPodAutoscaler')) checkHpa(r, o, h);
    for (const i of byKind(docs, 'Ingress')) checkIngress(r, o, i);
    for (const sm of byKind(docs, 'ServiceMonitor')) {
      const ep = sm.spec.endpoints || [];
      r.expect(ep.length === 1 && ep[0].port === 'management' && ep[0].path === '/metrics' && ep[0].interval === '30s',
               `overlays/${o}: ${c.id(sm)}`, 'one endpoint: port management, path /metrics, interval 30s');
    }
    checkCollector(r, o, docs, hosts);
    if (cloud) checkCloud(r, o, docs, hosts);
  }
  r.finish();
}

// JSON with sorted keys: kustomize reorders keys.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

function checkHpa(r, o, h) {
  const where = `overlays/${o}: ${c.id(h)}`;
  const s = h.spec;
  r.expect(/^order-service(-blue|-green)?$/.test(s.scaleTargetRef.name), where, `scaleTargetRef ${s.scaleTargetRef.name} is not order-service`);
  r.expect(s.minReplicas === 3 && s.maxReplicas === 10, where, 'replicas must be 3-10');
  const util = Object.fromEntries((s.metrics || []).filter((x) => x.type === 'Resource')
      .map((x) => [x.resource.name, x.resource.target.type === 'Utilization' ? x.resource.target.averageUtilization : null]));
  r.expect(util.cpu === 70 && util.memory === 80 && s.metrics.length === 2, where, 'metrics must be CPU 70 % and memory 80 % utilisation');
  const want = {
    scaleUp: {stabilizationWindowSeconds: 60, policies: [{type: 'Percent', value: 50, periodSeconds: 60}]},
    scaleDown: {stabilizationWindowSeconds: 300, policies: [{type: 'Percent', value: 10, periodSeconds: 60}]},
  };
  r.expect(canonical(s.behavior) === canonical(want), where, `behavior must be the seed's: ${JSON.stringify(want)}`);
}

function checkIngress(r, o, ing) {
  const where = `overlays/${o}: ${c.id(ing)}`;
  const ann = ing.metadata.annotations || {};
  r.expect(!!ann['cert-manager.io/cluster-issuer'], where, 'TLS certificate via cert-manager expected');
  r.expect(!!(ann['nginx.ingress.kubernetes.io/limit-rps'] || ann['nginx.ingress.kubernetes.io/limit-rpm']), where, 'rate limit annotation expected');
  const hosts = ing.spec.rules.map((x) => x.host);
  const tlsHosts = (ing.spec.tls || []).flatMap((t) => (t.secretName ? t.hosts : []));
  r.expect(hosts.every((x) => tlsHosts.includes(x)), where, 'every rule host must be covered by tls with a secretName');
  const azure = parameters(o, 'azure');
  r.expect(azure && hosts.length === 1 && hosts[0] === azure.publicHost, where, 'the host must be the environment file\'s kubernetes.publicHost');
  const paths = {};
  for (const rule of ing.spec.rules) for (const p of rule.http.paths) paths[p.path] = p.backend.service.name;
  const want = {'/api/orders': 'order-service', '/api/customers': 'customer-service',
                '/api/analytics': 'analytics-service', '/api/webhooks/fedex/tracking': 'shipping-worker'};
  for (const [p, svc] of Object.entries(want)) r.expect(paths[p] === svc, where, `path ${p} must go to Service ${svc} (got ${paths[p] || 'none'})`);
  r.expect(!Object.keys(paths).some((p) => p.startsWith('/admin') || p === '/' || p.startsWith('/metrics') || p.startsWith('/health')), where,
           'only /api paths are public: /admin, /metrics and /health stay inside the cluster');
}

function checkCollector(r, o, docs, hosts) {
  const col = find(docs, 'Deployment', 'otel-collector');
  if (!col) return;
  const where = `overlays/${o}: ${c.id(col)}`;
  const cm = find(docs, 'ConfigMap', 'otel-collector-config');
  if (!r.expect(cm && cm.data['config.yaml'], where, 'no otel-collector-config ConfigMap with config.yaml')) return;
  const cfg = c.tool('js-yaml').load(cm.data['config.yaml']);
  const exporters = cfg.service.pipelines.traces.exporters;
  const env = Object.fromEntries((col.spec.template.spec.containers[0].env || []).map((e) => [e.name, e]));
  if (!CLOUD.includes(o)) {
    r.expect(JSON.stringify(exporters) === '["debug"]', where, `dev exports traces to the debug exporter, got ${exporters}`);
  } else {
    r.expect(JSON.stringify(exporters) === '["azuremonitor"]', where, `production exports to azuremonitor, got ${exporters}`);
    r.expect(/\$\{env:APPLICATIONINSIGHTS_CONNECTION_STRING\}/.test(cfg.exporters.azuremonitor.connection_string || ''), where, 'azuremonitor.connection_string must come from the environment');
    r.expect(!!(env.APPLICATIONINSIGHTS_CONNECTION_STRING && env.APPLICATIONINSIGHTS_CONNECTION_STRING.valueFrom.secretKeyRef), where, 'APPLICATIONINSIGHTS_CONNECTION_STRING must come from a secretKeyRef');
  }
  for (const h of hosts) {
    const he = (c.podSpecOf(h).spec.containers[0].env || []).find((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT');
    r.expect(he && /^http:\/\/otel-collector(\.ecommerce(\.svc)?)?:4318$/.test(he.value), `overlays/${o}: ${c.id(h)}`, 'OTEL_EXPORTER_OTLP_ENDPOINT must point at the otel-collector Service on 4318');
  }
}

// Staging and production: blue-green order-service, the broker, Key Vault, auth.
function checkCloud(r, o, docs, hosts) {
  const where = `overlays/${o}`;
  const svc = find(docs, 'Service', 'order-service');
  const preview = find(docs, 'Service', 'order-service-preview');
  const blue = find(docs, 'Deployment', 'order-service-blue');
  const green = find(docs, 'Deployment', 'order-service-green');
  if (r.expect(svc && preview && blue && green, where, 'order-service, order-service-preview and order-service-blue/-green expected')) {
    const bl = blue.spec.template.metadata.labels;
    const gl = green.spec.template.metadata.labels;
    r.expect(bl.version === 'blue' && gl.version === 'green', where, 'pods labelled version=blue / version=green');
    r.expect(c.selects(svc.spec.selector, bl) !== c.selects(svc.spec.selector, gl), where, 'order-service must select exactly one colour');
    r.expect(c.selects(preview.spec.selector, bl) !== c.selects(svc.spec.selector, bl), where, 'order-service-preview must select the other colour');
    const {version: bv, ...blueRest} = bl;
    const {version: gv, ...greenRest} = gl;
    r.expect(canonical(blueRest) === canonical(greenRest), where, 'blue and green pods differ only in their version label');
    for (const x of [svc, preview, blue, green]) {
      r.expect((x.metadata.labels || {})['plexus.dev/owned-by'] === 'blue-green', `${where}: ${c.id(x)}`, 'must carry plexus.dev/owned-by: blue-green (scripts/deploy never re-applies it)');
    }
  }
  const rmq = find(docs, 'RabbitmqCluster', 'rabbitmq');
  if (r.expect(!!rmq, where, 'no RabbitmqCluster')) {
    r.expect(rmq.spec.replicas === 3, where, 'RabbitmqCluster: 3 replicas');
    r.expect((rmq.spec.rabbitmq.additionalPlugins || []).includes('rabbitmq_consistent_hash_exchange'), where, 'RabbitmqCluster: the consistent-hash exchange plugin must be enabled');
    r.expect(rmq.spec.tls && rmq.spec.tls.secretName && rmq.spec.tls.disableNonTLSListeners === true, where, 'RabbitmqCluster: TLS only');
    r.expect(rmq.spec.persistence && rmq.spec.persistence.storage, where, 'RabbitmqCluster: persistence');
    r.expect(!!(rmq.spec.resources && rmq.spec.resources.limits), where, 'RabbitmqCluster: resources');
    r.expect(docs.some((p) => p.kind === 'PodDisruptionBudget' && c.selects(p.spec.selector, {'app.kubernetes.io/name': 'rabbitmq', 'app.kubernetes.io/component': 'rabbitmq'})), where, 'no PodDisruptionBudget for the RabbitMQ nodes');
    const cert = find(docs, 'Certificate', rmq.spec.tls.secretName);
    r.expect(cert && cert.spec.dnsNames.includes('*.rabbitmq-nodes.ecommerce.svc'), where, 'the nodes\' certificate must name every node (*.rabbitmq-nodes.ecommerce.svc)');
  }
  for (const h of hosts) {
    const cfg = configOf(docs, h);
    if (!cfg) continue;
    const w = `${where}: ${c.id(h)}`;
    const t = cfg.json.transport || {};
    r.expect(Array.isArray(t.urls) && t.urls.length === 3 && t.urls.every((u) => u.startsWith('amqps://')), w, 'the config must list the three RabbitMQ nodes over amqps:// (transport.urls)');
    r.expect(t.queue_type === 'quorum', w, 'transport.queue_type must be quorum');
    r.expect(t.tls && t.tls.ca_file, w, 'transport.tls.ca_file must name the cluster CA');
    const auth = (cfg.json.http || {}).auth || {};
    r.expect(auth.enabled === true && (auth.groups || []).some((g) => g.prefix === '/admin' && (g.required_scopes || []).length), w, 'JWT auth must be on for /admin (with a scope)');
    const routes = {'order-service': ['/api/orders', '/api/sagas'], 'customer-service': ['/api/customers'],
                    'analytics-worker': ['/api/analytics'], 'inventory-worker': ['/api/inventory']}[instanceOf(h)] || [];
    for (const p of routes) r.expect((auth.groups || []).some((g) => g.prefix === p), w, `JWT auth must cover ${p}`);
    r.expect(!(auth.groups || []).some((g) => '/api/webhooks/fedex/tracking'.startsWith(`${g.prefix}/`) || g.prefix === '/api'), w,
             'the carrier webhook is HMAC-signed, not behind JWT: no auth group may cover it');
    r.expect(/^\$\{PLEXUS_PG_URL\}$/.test(cfg.json.store.url), w, 'store.url must be ${PLEXUS_PG_URL} (from Key Vault, no default)');
  }
}

// ---- network policies ----

function policiesFor(docs, labels, type) {
  return byKind(docs, 'NetworkPolicy').filter((p) => (p.spec.policyTypes || []).includes(type) && c.selects(p.spec.podSelector, labels));
}
function portMatches(rulePorts, port, named) {
  if (!rulePorts || rulePorts.length === 0) return true;
  return rulePorts.some((p) => p.port === undefined || p.port === port || (named && p.port === named) ||
                               (p.endPort && typeof p.port === 'number' && port >= p.port && port <= p.endPort));
}
function egressAllowed(docs, labels, port, peerTest) {
  return policiesFor(docs, labels, 'Egress').some((p) => (p.spec.egress || []).some((rule) => portMatches(rule.ports, port) && (rule.to || []).some(peerTest)));
}
function ingressAllowed(docs, labels, port, named, peerTest) {
  return policiesFor(docs, labels, 'Ingress').some((p) => (p.spec.ingress || []).some((rule) => portMatches(rule.ports, port, named) && (rule.from || []).some(peerTest)));
}
const nsIs = (peer, ns) => !!peer.namespaceSelector && c.selects(peer.namespaceSelector, {'kubernetes.io/metadata.name': ns});
const PUBLIC = ['order-service', 'customer-service', 'analytics-worker', 'shipping-worker'];
const cidrContains = (cidr, ip) => {
  const [net, bits] = cidr.split('/');
  const n = (a) => a.split('.').reduce((x, y) => x * 256 + Number(y), 0);
  const mask = Number(bits) === 0 ? 0 : 2 ** 32 - 2 ** (32 - Number(bits));
  return Math.floor(n(net) / 2 ** (32 - Number(bits))) === Math.floor(n(ip) / 2 ** (32 - Number(bits))) || mask === 0;
};

// What a host's config makes it dial, with the environment of its pod: [{what, port, peer}].
function dials(docs, w, cfg) {
  const out = [];
  const t = cfg.json.transport || {};
  const urls = t.urls || (t.url ? [t.url] : []);
  for (const u of urls) {
    const tls = /^amqps:/.test(u) || /^\$\{[A-Z_]+(:-amqps)/.test(u);
    const port = (u.match(/:(\d+)\/?$/) || [])[1];
    out.push({what: 'RabbitMQ', port: Number(port || (tls ? 5671 : 5672)), peer: {app: 'rabbitmq'}});
  }
  if ((cfg.json.store || {}).kind === 'postgres') out.push({what: 'PostgreSQL', port: 5432, peer: {app: 'postgresql'}});
  for (const p of cfg.json.plugins || []) {
    const smtp = p.config && p.config.smtp;
    if (!smtp || w.kind === 'Job') continue;  // migrate runs no handler: it sends no mail
    const env = (c.podSpecOf(w).spec.containers[0].envFrom || []).map((e) => e.configMapRef && find(docs, 'ConfigMap', base(e.configMapRef.name)))
        .filter(Boolean).reduce((a, cm) => Object.assign(a, cm.data), {});
    if (!env.PLEXUS_SMTP_HOST) continue;  // no relay configured: no mail leaves
    out.push({what: 'SMTP', port: Number(env.PLEXUS_SMTP_PORT || intOf(smtp.port, 25)), peer: {ipBlock: true}});
  }
  return out;
}

function network() {
  const r = new c.Report('deploy.network');
  const all = systems(r);
  for (const [o, docs] of Object.entries(all)) {
    const where = `overlays/${o}`;
    const params = parameters(o) || {network: {}};
    const monitoring = params.network.monitoringNamespace;
    const ingressNs = params.network.ingressNamespace;
    const deny = byKind(docs, 'NetworkPolicy').find((p) => Object.keys(p.spec.podSelector).length === 0 &&
        ['Ingress', 'Egress'].every((t) => (p.spec.policyTypes || []).includes(t)) && !p.spec.ingress && !p.spec.egress);
    r.expect(!!deny, where, 'no default-deny NetworkPolicy (podSelector {}, Ingress+Egress, no rules)');
    for (const p of byKind(docs, 'NetworkPolicy')) {
      for (const rule of (p.spec.ingress || []).concat(p.spec.egress || [])) {
        r.expect((rule.from || rule.to || []).length > 0, `${where}: ${c.id(p)}`, 'a rule without peers allows everyone');
        for (const peer of rule.from || rule.to || []) {
          if (peer.ipBlock) r.expect(peer.ipBlock.cidr !== '0.0.0.0/0' || (rule.ports || []).every((x) => x.port === 443), `${where}: ${c.id(p)}`, 'an ipBlock 0.0.0.0/0 opens the internet');
        }
      }
    }
    const workloads = docs.filter((d) => c.podSpecOf(d) && d.kind !== 'Job');
    for (const w of workloads) {
      r.expect(egressAllowed(docs, c.podSpecOf(w).metadata.labels, 53, (peer) => nsIs(peer, 'kube-system') && c.selects(peer.podSelector, {'k8s-app': 'kube-dns'})),
               `${where}: ${c.id(w)}`, 'DNS (kube-dns, port 53) not allowed');
    }
    const collector = find(docs, 'Deployment', 'otel-collector');
    const azure = parameters(o, 'azure');
    for (const h of docs.filter((d) => c.podSpecOf(d) && c.isHost(d))) {
      const labels = c.podSpecOf(h).metadata.labels;
      const wh = `${where}: ${c.id(h)}`;
      const cfg = configOf(docs, h);
      // What the config dials is allowed, on exactly that port.
      for (const d of cfg ? dials(docs, h, cfg) : []) {
        const ok = egressAllowed(docs, labels, d.port, (peer) => {
          if (d.peer.ipBlock) return !!peer.ipBlock;
          if (d.what === 'PostgreSQL' && azure) return !!peer.ipBlock && peer.ipBlock.cidr === azure.postgresCidr;
          return c.selects(peer.podSelector, {'app.kubernetes.io/name': d.peer.app, 'app.kubernetes.io/component': d.peer.app});
        });
        r.expect(ok, wh, `its config dials ${d.what} on port ${d.port}, which no NetworkPolicy allows`);
      }
      r.expect(!collector || egressAllowed(docs, labels, 4318, (peer) => c.selects(peer.podSelector, collector.spec.template.metadata.labels)), wh, 'egress (OTLP 4318) to the otel-collector not allowed');
      r.expect(!egressAllowed(docs, labels, 443, (peer) => !!peer.ipBlock), wh, 'host pods must not reach the internet on 443');
      r.expect(!egressAllowed(docs, labels, 25, (peer) => !!peer.ipBlock) || !cfg || dials(docs, h, cfg).some((d) => d.what === 'SMTP' && d.port === 25),
               wh, 'SMTP port 25 is open although its config sends no mail there');
      if (h.kind === 'Job') continue;
      r.expect(ingressAllowed(docs, labels, 9090, 'management', (peer) => nsIs(peer, monitoring)), wh, `Prometheus (namespace ${monitoring}) cannot scrape port management`);
      r.expect(!ingressAllowed(docs, labels, 8080, 'http', (peer) => nsIs(peer, monitoring)), wh, 'the monitoring namespace needs no access to port http');
      const inst = labels['app.kubernetes.io/instance'];
      const fromIngress = ingressAllowed(docs, labels, 8080, 'http', (peer) => nsIs(peer, ingressNs));
      r.expect(fromIngress === PUBLIC.includes(inst), wh, PUBLIC.includes(inst) ? 'the ingress controller cannot reach it' : 'not behind the Ingress, yet open to the ingress controller');
      r.expect(!ingressAllowed(docs, labels, 9090, 'management', (peer) => nsIs(peer, ingressNs)), wh, 'the management port must not be open to the ingress controller');
    }
    if (collector) {
      r.expect(ingressAllowed(docs, collector.spec.template.metadata.labels, 4318, 'otlp-http', (peer) => c.selects(peer.podSelector, {'app.kubernetes.io/name': 'plexus-host'})),
               `${where}: ${c.id(collector)}`, 'host pods cannot send OTLP to the collector');
    }
    // The servers: the in-cluster ones, and the RabbitmqCluster's nodes as the operator labels them.
    const rmqLabels = {'app.kubernetes.io/name': 'rabbitmq', 'app.kubernetes.io/component': 'rabbitmq'};
    const hostPeer = (peer) => c.selects(peer.podSelector, {'app.kubernetes.io/name': 'plexus-host'});
    if (find(docs, 'RabbitmqCluster', 'rabbitmq')) {
      r.expect(ingressAllowed(docs, rmqLabels, 5671, null, hostPeer), `${where}: RabbitmqCluster rabbitmq`, 'host pods cannot reach the nodes on 5671');
      r.expect(!ingressAllowed(docs, rmqLabels, 5672, null, hostPeer), `${where}: RabbitmqCluster rabbitmq`, 'plain AMQP (5672) must stay closed: TLS only');
      for (const port of [4369, 25672]) {
        r.expect(ingressAllowed(docs, rmqLabels, port, null, (peer) => c.selects(peer.podSelector, rmqLabels)) &&
                 egressAllowed(docs, rmqLabels, port, (peer) => c.selects(peer.podSelector, rmqLabels)), `${where}: RabbitmqCluster rabbitmq`, `the nodes cannot cluster (port ${port})`);
      }
    }
    for (const [srv, port] of [['postgresql', 5432], ['rabbitmq', 5672]]) {
      const s = find(docs, 'Deployment', srv);
      if (!s) continue;
      r.expect(ingressAllowed(docs, s.spec.template.metadata.labels, port, null, hostPeer), `${where}: ${c.id(s)}`, `host pods cannot reach it on ${port}`);
      r.expect(!ingressAllowed(docs, s.spec.template.metadata.labels, port, null, (peer) => nsIs(peer, ingressNs)), `${where}: ${c.id(s)}`, 'reachable from the ingress controller');
    }
  }
  r.finish();
}

// ---- configs and plugins ----

const SECRET_PLACEHOLDER = 'placeholder-for-a-secret-from-key-vault-0123456789';

// The environment a container gets (secrets: placeholders unless rendered, like dev's).
function podEnv(docs, ct) {
  const env = {};
  const cm = (name) => docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === name) || {data: {}};
  const secret = (name, key) => {
    const s = docs.find((d) => d.kind === 'Secret' && d.metadata.name === name);
    if (!s) return SECRET_PLACEHOLDER;
    if (s.stringData && s.stringData[key] !== undefined) return s.stringData[key];
    return Buffer.from(String((s.data || {})[key] || '').replace(/\s+/g, ''), 'base64').toString();
  };
  for (const ef of ct.envFrom || []) if (ef.configMapRef) Object.assign(env, cm(ef.configMapRef.name).data);
  for (const e of ct.env || []) {
    const vf = e.valueFrom;
    if (!vf) env[e.name] = e.value;
    else if (vf.secretKeyRef) env[e.name] = secret(vf.secretKeyRef.name, vf.secretKeyRef.key);
    else if (vf.configMapKeyRef) env[e.name] = cm(vf.configMapKeyRef.name).data[vf.configMapKeyRef.key];
    else env[e.name] = 'placeholder';
  }
  return env;
}

// The drop-in plugin example, built out of tree against the SDK installed from the build tree
// (what docker/drop-in-plugin.Dockerfile does); null when the build tree has no install rules.
function buildDropIn(r, buildDir, work) {
  const prefix = path.join(work, 'sdk');
  const out = path.join(work, 'drop-in');
  let res = c.run('cmake', ['--install', buildDir, '--prefix', prefix]);
  if (!r.expect(res.status === 0, 'examples/drop-in-plugin', `cmake --install ${buildDir}: ${res.stderr}`)) return null;
  res = c.run('cmake', ['-S', path.join(c.ROOT, 'examples', 'drop-in-plugin'), '-B', path.join(work, 'b'), '-G', 'Ninja',
                        '-DCMAKE_BUILD_TYPE=Release', `-DCMAKE_PREFIX_PATH=${prefix}`]);
  if (res.status === 0) res = c.run('cmake', ['--build', path.join(work, 'b')]);
  if (!r.expect(res.status === 0, 'examples/drop-in-plugin', `out-of-tree build against the installed SDK failed: ${res.stdout}${res.stderr}`)) return null;
  fs.mkdirSync(out, {mode: 0o755});
  fs.copyFileSync(path.join(work, 'b', 'plexus_order_audit.so'), path.join(out, 'plexus_order_audit.so'));
  fs.chmodSync(path.join(out, 'plexus_order_audit.so'), 0o644);
  return {dir: out, sha256: require('crypto').createHash('sha256').update(fs.readFileSync(path.join(out, 'plexus_order_audit.so'))).digest('hex')};
}

function configs() {
  const r = new c.Report('deploy.configs');
  const hostBin = process.env.PLEXUS_HOST_BIN || path.join(c.ROOT, 'build', 'bin', 'plexus-host');
  const pluginDir = process.env.PLEXUS_PLUGIN_BUILD_DIR || path.join(c.ROOT, 'build', 'plugins');
  if (!fs.existsSync(hostBin)) c.fatal(`${hostBin} not built (ninja -C build plexus-host)`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-configs-'));
  fs.chmodSync(work, 0o755);
  const dropIn = buildDropIn(r, path.dirname(path.dirname(hostBin)), work);
  // The host's management listener (http.management_port): once `check` knows the key, every
  // rendered config must set it, because the probes and the ServiceMonitor use that port.
  const probeCfg = path.join(work, 'management.json');
  fs.writeFileSync(probeCfg, JSON.stringify({service: 'probe', http: {port: 0, management_port: 0}, plugins: []}));
  const hasManagement = c.run(hostBin, ['check', '--config', probeCfg]).status === 0;
  const all = systems(r);
  const checked = new Set();
  let n = 0;
  for (const [o, docs] of Object.entries(all)) {
    for (const w of docs.filter((d) => c.podSpecOf(d) && c.isHost(d))) {
      const cfg = configOf(docs, w);
      if (!cfg) continue;  // deploy.policy reports it
      const where = `overlays/${o}: ${c.id(w)} (ConfigMap ${cfg.name})`;
      if (hasManagement) {
        r.expect((cfg.json.http || {}).management_port !== undefined, where, 'the probes use the management port, but the config sets no http.management_port');
      }
      const env = podEnv(docs, c.podSpecOf(w).spec.containers[0]);
      // The Key Vault CSI mount is not here: a test key stands in for the identity provider's.
      Object.assign(env, {PATH: process.env.PATH, PLEXUS_PLUGIN_DIR: pluginDir, PLEXUS_DATA_DIR: work});
      if (env.PLEXUS_JWT_PUBLIC_KEY_FILE) env.PLEXUS_JWT_PUBLIC_KEY_FILE = path.join(__dirname, 'fixtures', 'jwt-public-key.pem');
      if (env.PLEXUS_DROP_IN_DIR) {
        if (!dropIn) continue;
        env.PLEXUS_DROP_IN_DIR = dropIn.dir;
        env.PLEXUS_ORDER_AUDIT_SHA256 = dropIn.sha256;  // the pin the rehearsal sets for its build
      }
      // The same config with the same values of the variables it reads is checked once (a
      // Deployment and its migrate Job, dev and local).
      const used = [...new Set([...cfg.text.matchAll(/\$\{([A-Z0-9_]+)/g)].map((x) => x[1]))].sort();
      const key = `${cfg.text}\n${JSON.stringify(used.map((v) => [v, env[v]]))}`;
      if (checked.has(key)) continue;
      checked.add(key);
      const file = path.join(work, `${base(cfg.name)}-${n}.json`);
      fs.writeFileSync(file, cfg.text);
      const res = c.run(hostBin, ['check', '--config', file], {env, cwd: c.ROOT});
      r.expect(res.status === 0, where, `plexus-host check failed (exit ${res.status}): ${(res.stderr || res.stdout || '').trim().split('\n').slice(-3).join(' | ')}`);
      n++;
    }
  }
  // Every shipped config is what the local overlays run (the image's defaults stay in step).
  const dev = all.dev || [];
  for (const f of fs.readdirSync(path.join(c.ROOT, 'config')).filter((x) => x.endsWith('.json') && x !== 'all-in-one.json')) {
    const text = fs.readFileSync(path.join(c.ROOT, 'config', f), 'utf8');
    r.expect(dev.some((d) => d.kind === 'ConfigMap' && (d.data || {})['config.json'] === text), `config/${f}`, 'no ConfigMap of overlays/dev carries this config');
  }
  fs.rmSync(work, {recursive: true, force: true});
  r.finish(`${n} rendered host configs checked with ${path.relative(c.ROOT, hostBin)}${hasManagement ? '' : ' (the host does not know http.management_port yet: not required)'}`);
}

// Dispatch last: the checks use constants defined above.
const checks = {render, schema, strict, policy, network, configs};
const name = process.argv[2];
if (!checks[name]) c.fatal(`usage: check-manifests.js ${Object.keys(checks).join('|')}`);
checks[name]();
