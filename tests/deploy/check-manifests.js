#!/usr/bin/env node
'use strict';
// Deploy-tier checks of the rendered Kustomize overlays. One check per invocation, each a ctest
// case (tests/deploy/CMakeLists.txt):
//   render   every overlay renders with `kubectl kustomize`; the system overlays hold the system
//   schema   every object validates against the Kubernetes 1.27 schemas (kubernetes-models)
//   strict   unknown fields refused (ajv, additionalProperties false; own schemas for the CRDs)
//   policy   security context, probes, resources, drain budget, labels, secrets, images, names
//   network  NetworkPolicies: default deny, and exactly what each Deployment needs
//   configs  each overlay's config/plugin set exists in the build and passes `plexus-host check`
const fs = require('fs');
const path = require('path');
const c = require('./lib/common');


// Renders each overlay, or records why it did not render.
function renderAll(report, fresh) {
  const out = {};
  for (const o of c.listOverlays()) {
    try {
      out[o] = c.render(o, fresh);
    } catch (e) {
      report.fail(`overlays/${o}`, e.message);
    }
  }
  return out;
}

function byKind(docs, kind) {
  return docs.filter((d) => d.kind === kind);
}
function find(docs, kind, n) {
  return docs.find((d) => d.kind === kind && d.metadata.name === n);
}

function render() {
  const r = new c.Report('deploy.render');
  const all = renderAll(r, true);
  const overlays = Object.keys(all);
  for (const d of Object.keys(c.DEPLOYMENTS).concat(c.SYSTEM_OVERLAYS)) {
    r.expect(fs.existsSync(path.join(c.OVERLAYS_DIR, d, 'kustomization.yaml')), `overlays/${d}`,
             'missing (one overlay per Deployment of DOMAIN.md, plus production, dev, blue-green)');
  }
  for (const [o, docs] of Object.entries(all)) {
    r.expect(docs.length > 0, `overlays/${o}`, 'renders no objects');
    const seen = new Set();
    for (const d of docs) {
      const k = c.id(d);
      r.expect(!seen.has(k), `overlays/${o}`, `${k} rendered twice`);
      seen.add(k);
      r.expect(d.metadata && d.metadata.namespace === 'ecommerce' || d.kind === 'Namespace',
               `overlays/${o}: ${k}`, 'not in namespace ecommerce');
    }
  }
  for (const o of c.SYSTEM_OVERLAYS) {
    const docs = all[o];
    if (!docs) continue;
    const where = `overlays/${o}`;
    const deps = byKind(docs, 'Deployment').filter(c.isHost).map((d) => d.metadata.name);
    for (const dep of Object.keys(c.DEPLOYMENTS)) {
      const names = o === 'blue-green' && dep === 'order-service'
        ? ['order-service-blue', 'order-service-green'] : [dep];
      for (const n of names) r.expect(deps.includes(n), where, `no host Deployment ${n}`);
      r.expect(!!find(docs, 'Service', c.DEPLOYMENTS[dep].service), where,
               `no Service ${c.DEPLOYMENTS[dep].service}`);
      r.expect(!!find(docs, 'Job', `${dep}-migrate`), where, `no migrate Job ${dep}-migrate`);
    }
    r.expect(!!find(docs, 'Namespace', 'ecommerce'), where, 'no Namespace ecommerce');
    for (const kind of ['PodDisruptionBudget', 'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule']) {
      r.expect(byKind(docs, kind).length > 0, where, `no ${kind}`);
    }
    r.expect(!!find(docs, 'ConfigMap', 'plexus-dashboard'), where, 'no Grafana dashboard ConfigMap');
    r.expect(!!find(docs, 'Deployment', 'otel-collector'), where, 'no OpenTelemetry Collector');
    if (o !== 'dev') {
      r.expect(byKind(docs, 'HorizontalPodAutoscaler').length > 0, where, 'no HorizontalPodAutoscaler');
      r.expect(byKind(docs, 'Ingress').length === 1, where, 'expected one Ingress');
    } else {
      r.expect(!!find(docs, 'StatefulSet', 'postgresql'), where, 'no in-cluster PostgreSQL');
      r.expect(!!find(docs, 'StatefulSet', 'rabbitmq'), where, 'no in-cluster RabbitMQ');
    }
  }
  r.finish(`${overlays.length} overlays rendered: ${overlays.join(', ')}`);
}

// Model class of a built-in kind in kubernetes-models, or null (CRDs and unknown kinds).
function modelFor(req, apiVersion, kind) {
  try {
    const mod = req(`kubernetes-models/${apiVersion}`);
    return mod[kind] || null;
  } catch (e) {
    return null;
  }
}

const CRD_SCHEMAS = {
  'monitoring.coreos.com/v1/ServiceMonitor': 'servicemonitor.schema.json',
  'monitoring.coreos.com/v1/PrometheusRule': 'prometheusrule.schema.json',
};

// kustomize folds long base64 Secret values over several lines; the API server's decoder skips
// the line breaks, the format check here does not.
function normalise(d) {
  if (d.kind !== 'Secret' || !d.data) return d;
  const data = Object.fromEntries(Object.entries(d.data).map(([k, v]) => [k, String(v).replace(/\s+/g, '')]));
  return Object.assign({}, d, {data});
}

function schema() {
  const r = new c.Report('deploy.schema');
  const req = c.toolRequire();
  const all = renderAll(r);
  let n = 0;
  for (const [o, docs] of Object.entries(all)) {
    for (const d of docs) {
      const where = `overlays/${o}: ${c.id(d)}`;
      const Model = modelFor(req, d.apiVersion, d.kind);
      if (!Model) {
        r.expect(!!CRD_SCHEMAS[`${d.apiVersion}/${d.kind}`], where,
                 `unknown kind ${d.apiVersion}/${d.kind} (not in Kubernetes 1.27, no CRD schema in tests/deploy/schemas)`);
        continue;
      }
      try {
        new Model(normalise(d)).validate();
        r.ok();
        n++;
      } catch (e) {
        r.fail(where, e.message);
      }
    }
  }
  r.finish(`${n} built-in objects valid against Kubernetes 1.27 schemas`);
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
      let s = null;
      if (CRD_SCHEMAS[k]) {
        s = JSON.parse(fs.readFileSync(path.join(__dirname, 'schemas', CRD_SCHEMAS[k]), 'utf8'));
      } else {
        s = schemas.schemaFor(d.apiVersion, d.kind);
        if (s) s = JSON.parse(JSON.stringify(s));  // compile a snapshot of the definitions
      }
      compiled.set(k, s ? ajv.compile(s) : null);
    }
    return compiled.get(k);
  };
  const annotations = ajv.compile(JSON.parse(
      fs.readFileSync(path.join(__dirname, 'schemas', 'ingress-annotations.schema.json'), 'utf8')));
  const all = renderAll(r);
  let n = 0;
  for (const [o, docs] of Object.entries(all)) {
    for (const d of docs) {
      const where = `overlays/${o}: ${c.id(d)}`;
      const v = validator(d);
      if (!v) {
        r.fail(where, `no strict schema for ${d.apiVersion}/${d.kind}`);
        continue;
      }
      if (!v(d)) {
        for (const e of v.errors) {
          const extra = e.params && e.params.additionalProperty ? ` '${e.params.additionalProperty}'` : '';
          r.fail(where, `${e.instancePath || '/'} ${e.message}${extra}`);
        }
      } else {
        r.ok();
        n++;
      }
      if (d.kind === 'Ingress' && !annotations(d.metadata.annotations || {})) {
        for (const e of annotations.errors) {
          const extra = e.params && e.params.additionalProperty ? ` '${e.params.additionalProperty}'` : '';
          r.fail(where, `metadata.annotations${e.instancePath} ${e.message}${extra}`);
        }
      }
    }
  }
  r.finish(`${n} objects without unknown fields`);
}

// ---- policy ----

const SECRET_ENV = /(PASSWORD|PASS|SECRET|TOKEN|CONNECTION_STRING|_URL)$/;
const DEFAULT_SHUTDOWN_DELAY_MS = 1000;
const DEFAULT_DRAIN_SECONDS = 20;

function readConfig(configPath) {
  const rel = configPath.replace(/^\/opt\/plexus\//, '');
  const file = path.join(c.ROOT, rel);
  if (!/^config\/[a-z0-9-]+\.json$/.test(rel) || !fs.existsSync(file)) return null;
  return {rel, json: JSON.parse(fs.readFileSync(file, 'utf8'))};
}

function intOf(v, dflt) {
  if (v === undefined) return dflt;
  const m = String(v).match(/^\$\{[A-Z0-9_]+:-(\d+)\}$/);
  return m ? Number(m[1]) : Number(v);
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

function checkImage(r, where, image) {
  if (!r.expect(typeof image === 'string' && image.length > 0, where, 'no image')) return;
  const last = image.split('/').pop();
  const digest = image.includes('@sha256:');
  const tag = last.includes(':') ? last.split(':').pop() : null;
  r.expect(digest || (tag !== null && tag !== 'latest'), where,
           `image '${image}' must be pinned to a version tag or digest (never latest or untagged)`);
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
    r.expect(!v.secret && !(v.projected && (v.projected.sources || []).some((s) => s.secret)), where,
             `volume ${v.name}: secrets reach pods only as env secretKeyRef`);
  }
  const containers = (spec.initContainers || []).concat(spec.containers || []);
  for (const ct of containers) {
    const w = `${where} container ${ct.name}`;
    const sc = ct.securityContext || {};
    r.expect(sc.runAsNonRoot === true || (psc.runAsNonRoot === true && sc.runAsNonRoot !== false), w,
             'runAsNonRoot must be true');
    r.expect(sc.runAsUser !== 0 && psc.runAsUser !== 0, w, 'must not run as uid 0');
    r.expect(sc.readOnlyRootFilesystem === true, w, 'readOnlyRootFilesystem must be true');
    r.expect(sc.allowPrivilegeEscalation === false, w, 'allowPrivilegeEscalation must be false');
    r.expect(sc.privileged !== true, w, 'privileged is not allowed');
    const drop = (sc.capabilities && sc.capabilities.drop) || [];
    r.expect(drop.includes('ALL'), w, 'capabilities.drop must contain ALL');
    r.expect(!(sc.capabilities && sc.capabilities.add && sc.capabilities.add.length), w,
             'capabilities.add is not allowed');
    const seccomp = (sc.seccompProfile || psc.seccompProfile || {}).type;
    r.expect(seccomp === 'RuntimeDefault', w, 'seccompProfile.type must be RuntimeDefault');
    const res = ct.resources || {};
    for (const k of ['cpu', 'memory']) {
      r.expect(res.requests && res.requests[k] !== undefined, w, `resources.requests.${k} missing`);
      r.expect(res.limits && res.limits[k] !== undefined, w, `resources.limits.${k} missing`);
    }
    if (opts.longRunning) {
      r.expect(!!ct.livenessProbe, w, 'no livenessProbe');
      r.expect(!!ct.readinessProbe, w, 'no readinessProbe');
    }
    checkImage(r, w, ct.image);
    r.expect(!(ct.envFrom || []).some((e) => e.secretRef), w, 'envFrom secretRef: use env secretKeyRef');
    for (const e of ct.env || []) {
      if (SECRET_ENV.test(e.name)) {
        r.expect(!!(e.valueFrom && e.valueFrom.secretKeyRef), w,
                 `env ${e.name} holds a secret: it must come from valueFrom.secretKeyRef`);
      }
    }
  }
}

function probePath(p) {
  return p && p.httpGet ? `${p.httpGet.path}@${p.httpGet.port}` : null;
}

function checkHost(r, o, obj) {
  const where = `overlays/${o}: ${c.id(obj)}`;
  const tpl = c.podSpecOf(obj);
  r.expect((obj.metadata.labels || {})['app.kubernetes.io/name'] === 'plexus-host', where,
           'metadata.labels app.kubernetes.io/name must be plexus-host');
  const ct = tpl.spec.containers[0];
  const args = ct.args || [];
  const isJob = obj.kind === 'Job';
  const verb = isJob ? 'migrate' : 'run';
  r.expect(args.length === 3 && args[0] === verb && args[1] === '--config', where,
           `args must be ["${verb}", "--config", "/opt/plexus/config/<deployment>.json"], got ${JSON.stringify(args)}`);
  const cfg = readConfig(args[2] || '');
  r.expect(!!cfg, where, `config ${args[2]} is not a file in the repository's config/`);
  const mounts = (ct.volumeMounts || []).map((m) => m.mountPath);
  for (const dir of ['/var/lib/plexus', '/tmp']) {
    r.expect(mounts.includes(dir), where, `${dir} must be a writable volume (read-only root filesystem)`);
  }
  const env = Object.fromEntries((ct.env || []).map((e) => [e.name, e]));
  for (const k of ['PLEXUS_PG_URL', 'PLEXUS_AMQP_URL']) {
    r.expect(!!(env[k] && env[k].valueFrom && env[k].valueFrom.secretKeyRef), where,
             `${k} must come from a secretKeyRef`);
  }
  if (isJob) return;
  const port = (ct.ports || []).find((p) => p.name === 'http');
  r.expect(port && port.containerPort === 8080, where, 'container port named http on 8080 expected');
  r.expect(probePath(ct.livenessProbe) === '/health@http', where, 'livenessProbe must GET /health on port http');
  r.expect(probePath(ct.readinessProbe) === '/health/ready@http', where,
           'readinessProbe must GET /health/ready on port http');
  const pre = preStopSeconds(ct);
  r.expect(pre !== null, where, 'no preStop hook');
  if (cfg) {
    const http = cfg.json.http || {};
    const budget = (pre || 0) + intOf(http.shutdown_delay_ms, DEFAULT_SHUTDOWN_DELAY_MS) / 1000 +
                   intOf(http.drain_seconds, DEFAULT_DRAIN_SECONDS);
    const grace = tpl.spec.terminationGracePeriodSeconds === undefined ? 30 : tpl.spec.terminationGracePeriodSeconds;
    r.expect(grace >= budget, where,
             `terminationGracePeriodSeconds ${grace} < drain budget ${budget} s (preStop + ${cfg.rel} shutdown_delay_ms + drain_seconds)`);
  }
  r.expect((tpl.metadata.labels || {})['app.kubernetes.io/name'] === 'plexus-host', where,
           'pod template label app.kubernetes.io/name must be plexus-host');
}

function instanceOf(obj) {
  return ((c.podSpecOf(obj).metadata || {}).labels || {})['app.kubernetes.io/instance'];
}

function policy() {
  const r = new c.Report('deploy.policy');
  const all = renderAll(r);
  for (const [o, docs] of Object.entries(all)) {
    const workloads = docs.filter((d) => c.podSpecOf(d));
    for (const w of workloads) {
      checkPod(r, o, w, {longRunning: w.kind !== 'Job'});
      if (c.isHost(w)) checkHost(r, o, w);
    }
    const hosts = workloads.filter(c.isHost);
    const hostDeps = hosts.filter((d) => d.kind === 'Deployment');
    // One image for every host Deployment and Job.
    const images = new Set(hosts.map((d) => c.podSpecOf(d).spec.containers[0].image));
    r.expect(images.size <= 1, `overlays/${o}`, `host workloads use ${images.size} images: ${[...images].join(', ')}`);
    // Replicas of DOMAIN.md (dev runs one of each; blue-green's idle colour has none).
    for (const d of hostDeps) {
      const inst = instanceOf(d);
      const want = c.DEPLOYMENTS[inst];
      if (!r.expect(!!want, `overlays/${o}: ${c.id(d)}`, `instance label '${inst}' is not a Deployment of DOMAIN.md`)) continue;
      if (o === 'dev' || d.metadata.name === 'order-service-green') continue;
      r.expect(d.spec.replicas === want.replicas, `overlays/${o}: ${c.id(d)}`,
               `replicas ${d.spec.replicas}, DOMAIN.md says ${want.replicas}`);
      const cfg = readConfig(c.podSpecOf(d).spec.containers[0].args[2] || '');
      r.expect(cfg && cfg.json.service === inst, `overlays/${o}: ${c.id(d)}`,
               `runs ${cfg ? cfg.rel : '?'}, whose service is not ${inst}`);
    }
    // Services: the seed's names, selecting host pods, port http.
    for (const s of docs.filter((d) => d.kind === 'Service' && (d.metadata.labels || {})['app.kubernetes.io/name'] === 'plexus-host')) {
      const where = `overlays/${o}: ${c.id(s)}`;
      const targets = hostDeps.filter((d) => c.selects(s.spec.selector, c.podSpecOf(d).metadata.labels));
      r.expect(targets.length >= 1, where, 'selects no host Deployment');
      const insts = new Set(targets.map(instanceOf));
      r.expect(insts.size === 1, where, `selects pods of ${[...insts].join(', ')}`);
      const inst = [...insts][0];
      if (c.DEPLOYMENTS[inst]) {
        r.expect(s.metadata.name === c.DEPLOYMENTS[inst].service, where,
                 `Service of ${inst} must be named ${c.DEPLOYMENTS[inst].service} (the seed's name)`);
      }
      r.expect(s.spec.ports.some((p) => p.name === 'http' && p.port === 80 && p.targetPort === 'http'), where,
               'port http 80 -> targetPort http expected');
    }
    // Every host Deployment has a PDB.
    for (const d of hostDeps) {
      const pdb = docs.find((p) => p.kind === 'PodDisruptionBudget' && c.selects(p.spec.selector, c.podSpecOf(d).metadata.labels));
      r.expect(!!pdb, `overlays/${o}: ${c.id(d)}`, 'no PodDisruptionBudget selects its pods');
    }
    // Migrate Jobs run the config of the Deployment of the same instance.
    for (const j of hosts.filter((d) => d.kind === 'Job')) {
      const inst = instanceOf(j);
      const dep = hostDeps.find((d) => instanceOf(d) === inst);
      if (dep) {
        r.expect(c.podSpecOf(j).spec.containers[0].args[2] === c.podSpecOf(dep).spec.containers[0].args[2],
                 `overlays/${o}: ${c.id(j)}`, `migrates another config than ${c.id(dep)} runs`);
      }
    }
    for (const h of byKind(docs, 'HorizontalPodAutoscaler')) checkHpa(r, o, h, docs);
    for (const i of byKind(docs, 'Ingress')) checkIngress(r, o, i, docs);
    for (const sm of byKind(docs, 'ServiceMonitor')) {
      const where = `overlays/${o}: ${c.id(sm)}`;
      const ep = sm.spec.endpoints || [];
      r.expect(ep.length === 1 && ep[0].port === 'http' && ep[0].path === '/metrics' && ep[0].interval === '30s',
               where, 'one endpoint: port http, path /metrics, interval 30s');
      const svcs = docs.filter((s) => s.kind === 'Service' && c.selects(sm.spec.selector, s.metadata.labels));
      r.expect(svcs.length === Object.keys(c.DEPLOYMENTS).length, where,
               `selects ${svcs.length} Services, expected the ${Object.keys(c.DEPLOYMENTS).length} host Services`);
    }
    checkCollector(r, o, docs, hosts);
    if (o === 'blue-green') checkBlueGreen(r, o, docs);
  }
  r.finish();
}

// JSON with sorted keys: kustomize reorders keys.
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function checkHpa(r, o, h, docs) {
  const where = `overlays/${o}: ${c.id(h)}`;
  const s = h.spec;
  const target = find(docs, 'Deployment', s.scaleTargetRef.name);
  r.expect(s.scaleTargetRef.kind === 'Deployment' && target && instanceOf(target) === 'order-service', where,
           `scaleTargetRef ${s.scaleTargetRef.name} is not an order-service Deployment`);
  r.expect(s.minReplicas === 3 && s.maxReplicas === 10, where, 'replicas must be 3-10');
  const util = Object.fromEntries((s.metrics || []).filter((m) => m.type === 'Resource')
      .map((m) => [m.resource.name, m.resource.target.type === 'Utilization' ? m.resource.target.averageUtilization : null]));
  r.expect(util.cpu === 70 && util.memory === 80 && s.metrics.length === 2, where,
           'metrics must be CPU 70 % and memory 80 % utilisation');
  const want = {
    scaleUp: {stabilizationWindowSeconds: 60, policies: [{type: 'Percent', value: 50, periodSeconds: 60}]},
    scaleDown: {stabilizationWindowSeconds: 300, policies: [{type: 'Percent', value: 10, periodSeconds: 60}]},
  };
  r.expect(canonical(s.behavior) === canonical(want), where,
           `behavior must be the seed's: ${JSON.stringify(want)}`);
}

function checkIngress(r, o, ing, docs) {
  const where = `overlays/${o}: ${c.id(ing)}`;
  const ann = ing.metadata.annotations || {};
  r.expect(!!ann['cert-manager.io/cluster-issuer'], where, 'TLS certificate via cert-manager expected');
  r.expect(!!(ann['nginx.ingress.kubernetes.io/limit-rps'] || ann['nginx.ingress.kubernetes.io/limit-rpm']), where,
           'rate limit annotation expected');
  const hosts = ing.spec.rules.map((x) => x.host);
  const tlsHosts = (ing.spec.tls || []).flatMap((t) => (t.secretName ? t.hosts : []));
  r.expect(hosts.every((h) => tlsHosts.includes(h)), where, 'every rule host must be covered by tls with a secretName');
  const paths = {};
  for (const rule of ing.spec.rules) {
    for (const p of rule.http.paths) {
      paths[p.path] = p.backend.service.name;
      const svc = find(docs, 'Service', p.backend.service.name);
      if (r.expect(!!svc, where, `path ${p.path}: no Service ${p.backend.service.name}`)) {
        const port = p.backend.service.port;
        r.expect(svc.spec.ports.some((sp) => sp.name === port.name || sp.port === port.number), where,
                 `path ${p.path}: Service ${svc.metadata.name} has no port ${JSON.stringify(port)}`);
      }
    }
  }
  const want = {'/api/orders': 'order-service', '/api/customers': 'customer-service',
                '/api/analytics': 'analytics-service', '/api/webhooks/fedex/tracking': 'shipping-worker'};
  for (const [p, svc] of Object.entries(want)) {
    r.expect(paths[p] === svc, where, `path ${p} must go to Service ${svc} (got ${paths[p] || 'none'})`);
  }
}

function configMapData(docs, name) {
  const cm = docs.find((d) => d.kind === 'ConfigMap' && (d.metadata.name === name || d.metadata.name.startsWith(`${name}-`)));
  return cm ? cm.data || {} : null;
}

function checkCollector(r, o, docs, hosts) {
  const col = find(docs, 'Deployment', 'otel-collector');
  if (!col) return;
  const where = `overlays/${o}: ${c.id(col)}`;
  const data = configMapData(docs, 'otel-collector-config');
  if (!r.expect(data && data['config.yaml'], where, 'no otel-collector-config ConfigMap with config.yaml')) return;
  const cfg = c.tool('js-yaml').load(data['config.yaml']);
  const exporters = cfg.service.pipelines.traces.exporters;
  const ct = col.spec.template.spec.containers[0];
  const env = Object.fromEntries((ct.env || []).map((e) => [e.name, e]));
  if (o === 'dev') {
    r.expect(JSON.stringify(exporters) === '["debug"]', where, `dev exports traces to the debug exporter, got ${exporters}`);
  } else {
    r.expect(JSON.stringify(exporters) === '["azuremonitor"]', where, `production exports to azuremonitor, got ${exporters}`);
    r.expect(/\$\{env:APPLICATIONINSIGHTS_CONNECTION_STRING\}/.test(cfg.exporters.azuremonitor.connection_string || ''),
             where, 'azuremonitor.connection_string must come from the environment');
    const e = env.APPLICATIONINSIGHTS_CONNECTION_STRING;
    r.expect(!!(e && e.valueFrom && e.valueFrom.secretKeyRef), where,
             'APPLICATIONINSIGHTS_CONNECTION_STRING must come from a secretKeyRef');
  }
  r.expect(cfg.receivers.otlp.protocols.http.endpoint.endsWith(':4318'), where, 'OTLP/HTTP receiver on 4318 expected');
  for (const h of hosts) {
    const he = (c.podSpecOf(h).spec.containers[0].env || []).find((e) => e.name === 'OTEL_EXPORTER_OTLP_ENDPOINT');
    r.expect(he && /^http:\/\/otel-collector(\.ecommerce(\.svc)?)?:4318$/.test(he.value), `overlays/${o}: ${c.id(h)}`,
             'OTEL_EXPORTER_OTLP_ENDPOINT must point at the otel-collector Service on 4318');
  }
}

function checkBlueGreen(r, o, docs) {
  const where = `overlays/${o}`;
  const svc = find(docs, 'Service', 'order-service');
  const blue = find(docs, 'Deployment', 'order-service-blue');
  const green = find(docs, 'Deployment', 'order-service-green');
  if (!r.expect(svc && blue && green, where, 'order-service Service and order-service-blue/-green expected')) return;
  r.expect(find(docs, 'Deployment', 'order-service') === undefined, where, 'no plain order-service Deployment');
  const bl = blue.spec.template.metadata.labels;
  const gl = green.spec.template.metadata.labels;
  r.expect(bl.version === 'blue' && gl.version === 'green', where, 'pods labelled version=blue / version=green');
  r.expect(blue.spec.selector.matchLabels.version === 'blue' && green.spec.selector.matchLabels.version === 'green',
           where, 'Deployment selectors must include the colour');
  r.expect(c.selects(svc.spec.selector, bl) !== c.selects(svc.spec.selector, gl), where,
           'the Service must select exactly one colour');
  const sel = svc.spec.selector;
  const {version, ...rest} = sel;
  r.expect(version !== undefined && c.selects(rest, bl) && c.selects(rest, gl), where,
           'the Service selector must be the order-service pods plus a version: a switch changes only the version');
  const {version: bv, ...blueRest} = bl;
  const {version: gv, ...greenRest} = gl;
  r.expect(canonical(blueRest) === canonical(greenRest), where, 'blue and green pods differ only in their version label');
  const strip = (d) => JSON.stringify(d.spec.template.spec);
  r.expect(strip(blue) === strip(green), where, 'blue and green run the same pod spec (image aside, as rendered)');
}

// ---- network policies ----

function policiesFor(docs, labels, type) {
  // An empty podSelector ({}) selects every pod.
  return byKind(docs, 'NetworkPolicy').filter((p) => (p.spec.policyTypes || []).includes(type) &&
      c.selects(p.spec.podSelector, labels));
}

function portMatches(rulePorts, port, named) {
  if (!rulePorts || rulePorts.length === 0) return true;
  return rulePorts.some((p) => p.port === undefined || p.port === port || (named && p.port === named));
}

// Is traffic to `port` (egress) allowed to a peer described by `peer` {namespace labels, pod labels, ip}?
function egressAllowed(docs, labels, port, peerTest) {
  return policiesFor(docs, labels, 'Egress').some((p) => (p.spec.egress || []).some((rule) =>
    portMatches(rule.ports, port) && (rule.to || []).some(peerTest)));
}
function ingressAllowed(docs, labels, port, named, peerTest) {
  return policiesFor(docs, labels, 'Ingress').some((p) => (p.spec.ingress || []).some((rule) =>
    portMatches(rule.ports, port, named) && (rule.from || []).some(peerTest)));
}

const nsIs = (peer, ns) => !!peer.namespaceSelector && c.selects(peer.namespaceSelector, {'kubernetes.io/metadata.name': ns});
const PUBLIC = ['order-service', 'customer-service', 'analytics-worker', 'shipping-worker'];

function network() {
  const r = new c.Report('deploy.network');
  const all = renderAll(r);
  for (const o of c.SYSTEM_OVERLAYS) {
    const docs = all[o];
    if (!docs) continue;
    const where = `overlays/${o}`;
    const deny = byKind(docs, 'NetworkPolicy').find((p) => Object.keys(p.spec.podSelector).length === 0 &&
        ['Ingress', 'Egress'].every((t) => (p.spec.policyTypes || []).includes(t)) && !p.spec.ingress && !p.spec.egress);
    r.expect(!!deny, where, 'no default-deny NetworkPolicy (podSelector {}, Ingress+Egress, no rules)');
    for (const p of byKind(docs, 'NetworkPolicy')) {
      for (const rule of (p.spec.ingress || []).concat(p.spec.egress || [])) {
        r.expect((rule.from || rule.to || []).length > 0, `${where}: ${c.id(p)}`, 'a rule without peers allows everyone');
      }
    }
    const workloads = docs.filter((d) => c.podSpecOf(d) && d.kind !== 'Job');
    for (const w of workloads) {
      const labels = c.podSpecOf(w).metadata.labels;
      const wh = `${where}: ${c.id(w)}`;
      r.expect(egressAllowed(docs, labels, 53, (peer) => nsIs(peer, 'kube-system') && c.selects(peer.podSelector, {'k8s-app': 'kube-dns'})),
               wh, 'DNS (kube-dns, port 53) not allowed');
    }
    const collector = find(docs, 'Deployment', 'otel-collector');
    for (const d of workloads.filter(c.isHost)) {
      const labels = c.podSpecOf(d).metadata.labels;
      const wh = `${where}: ${c.id(d)}`;
      const inst = labels['app.kubernetes.io/instance'];
      r.expect(egressAllowed(docs, labels, 5432, (peer) => !!peer.ipBlock || c.selects(peer.podSelector, {'app.kubernetes.io/name': 'postgresql'})),
               wh, 'egress to PostgreSQL 5432 not allowed');
      r.expect(egressAllowed(docs, labels, 5672, (peer) => c.selects(peer.podSelector, {'app.kubernetes.io/name': 'rabbitmq'})),
               wh, 'egress to RabbitMQ 5672 not allowed');
      r.expect(!collector || egressAllowed(docs, labels, 4318, (peer) => c.selects(peer.podSelector, collector.spec.template.metadata.labels)),
               wh, 'egress (OTLP 4318) to the otel-collector not allowed');
      r.expect(!egressAllowed(docs, labels, 443, (peer) => !!peer.ipBlock), wh, 'host pods must not reach the internet on 443');
      r.expect(ingressAllowed(docs, labels, 8080, 'http', (peer) => nsIs(peer, 'monitoring')), wh,
               'Prometheus (namespace monitoring) cannot scrape port http');
      const fromIngress = ingressAllowed(docs, labels, 8080, 'http', (peer) => nsIs(peer, 'ingress-nginx'));
      r.expect(fromIngress === PUBLIC.includes(inst), wh,
               PUBLIC.includes(inst) ? 'the ingress controller cannot reach it' : 'not behind the Ingress, yet open to the ingress controller');
      r.expect(!ingressAllowed(docs, labels, 8080, 'http', (peer) => nsIs(peer, 'default')), wh, 'open to arbitrary namespaces');
    }
    if (collector) {
      const labels = collector.spec.template.metadata.labels;
      r.expect(ingressAllowed(docs, labels, 4318, 'otlp-http', (peer) => c.selects(peer.podSelector, {'app.kubernetes.io/name': 'plexus-host'})),
               `${where}: ${c.id(collector)}`, 'host pods cannot send OTLP to the collector');
    }
    for (const srv of [['postgresql', 5432], ['rabbitmq', 5672]]) {
      const s = find(docs, 'StatefulSet', srv[0]);
      if (!s) continue;
      const labels = s.spec.template.metadata.labels;
      r.expect(ingressAllowed(docs, labels, srv[1], null, (peer) => c.selects(peer.podSelector, {'app.kubernetes.io/name': 'plexus-host'})),
               `${where}: ${c.id(s)}`, `host pods cannot reach it on ${srv[1]}`);
      r.expect(!ingressAllowed(docs, labels, srv[1], null, (peer) => nsIs(peer, 'ingress-nginx')),
               `${where}: ${c.id(s)}`, 'reachable from the ingress controller');
    }
  }
  r.finish();
}

// ---- configs and plugins ----

function configs() {
  const r = new c.Report('deploy.configs');
  const hostBin = process.env.PLEXUS_HOST_BIN || path.join(c.ROOT, 'build', 'bin', 'plexus-host');
  const pluginDir = process.env.PLEXUS_PLUGIN_BUILD_DIR || path.join(c.ROOT, 'build', 'plugins');
  if (!fs.existsSync(hostBin)) c.fatal(`${hostBin} not built (ninja -C build plexus-host)`);
  const all = renderAll(r);
  const used = new Map();
  for (const [o, docs] of Object.entries(all)) {
    for (const w of docs.filter((d) => c.podSpecOf(d) && c.isHost(d))) {
      const args = c.podSpecOf(w).spec.containers[0].args || [];
      if (!args[2]) continue;
      if (!used.has(args[2])) used.set(args[2], []);
      used.get(args[2]).push(`overlays/${o}: ${c.id(w)}`);
    }
  }
  for (const [cfgPath, users] of used) {
    const cfg = readConfig(cfgPath);
    if (!r.expect(!!cfg, users[0], `${cfgPath} is not a config/ file of the repository`)) continue;
    for (const p of cfg.json.plugins || []) {
      r.expect(fs.existsSync(path.join(pluginDir, p.library)), `${cfg.rel}`,
               `plugin ${p.library} is not in ${pluginDir}`);
    }
    // `check` loads every plugin through the real loader; it needs no PostgreSQL or RabbitMQ.
    const env = {PATH: process.env.PATH, PLEXUS_PLUGIN_DIR: pluginDir};
    const res = c.run(hostBin, ['check', '--config', path.join(c.ROOT, cfg.rel)], {env, cwd: c.ROOT});
    r.expect(res.status === 0, cfg.rel,
             `plexus-host check failed (exit ${res.status}): ${(res.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  }
  for (const f of fs.readdirSync(path.join(c.ROOT, 'config'))) {
    if (f === 'all-in-one.json' || !f.endsWith('.json')) continue;
    r.expect(used.has(`/opt/plexus/config/${f}`), `config/${f}`, 'no overlay runs this config');
  }
  r.finish(`${used.size} configs checked with ${path.relative(c.ROOT, hostBin)}`);
}

// Dispatch last: the checks use constants defined above.
const checks = {render, schema, strict, policy, network, configs};
const name = process.argv[2];
if (!checks[name]) c.fatal(`usage: check-manifests.js ${Object.keys(checks).join('|')}`);
checks[name]();
