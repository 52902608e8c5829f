#!/usr/bin/env node
'use strict';
// The podman rehearsal of the Kubernetes manifests (scripts/cluster-rehearsal runs this after it
// built the images). It renders kustomize/overlays/local (the same base, per-Deployment overlays,
// host ConfigMaps, in-cluster servers and drop-in plugin component as a real install), then runs
// it with `podman kube play` in the order scripts/deploy applies a cluster:
//   1. Secrets (podman secrets) and the servers (PostgreSQL, RabbitMQ)
//   2. the migrate Jobs, each as a Pod (podman runs no Jobs), waited for exit code 0
//   3. the seven host Deployments
// and waits for every Deployment's readinessProbe, run as the kubelet would (httpGet from outside
// the pod to its IP, exec inside it, tcpSocket). Podman has no Services and no cluster DNS: each
// pod gets /etc/hosts entries (hostAliases) for every Service of the manifests, pointing at the
// pods that Service's selector picks. Then it places an order through order-service, reads it
// back Shipped, checks that the drop-in plugin on analytics-worker saw it, confirms delivery
// through the HMAC-signed carrier webhook, and tears everything down.
//
// Environment (set by scripts/cluster-rehearsal): PLEXUS_REHEARSAL_IMAGE (the host image),
// PLEXUS_REHEARSAL_PLUGIN_SHA256 (the drop-in plugin's pin), PLEXUS_REHEARSAL_KEEP=1 (leave the
// pods up on failure), PLEXUS_REHEARSAL_DEADLINE (seconds per wait, default 300), CONTAINERS_CONF.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const c = require('../deploy/lib/common');

const NETWORK = 'plexus-rehearsal';
const WORK = path.join(c.ROOT, '.cache', 'rehearsal');
const DEADLINE_S = Number(process.env.PLEXUS_REHEARSAL_DEADLINE || 300);
const timings = [];
const t0 = Date.now();

function say(msg) {
  process.stdout.write(`[rehearsal] ${msg}\n`);
}
function fail(msg) {
  throw new Error(msg);
}
function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
// Runs podman; returns stdout, or throws with its stderr unless `ok` allows the exit code.
function podman(args, opts) {
  const r = c.run('podman', args, Object.assign({}, opts || {}));
  if (r.status !== 0 && !(opts && opts.allowFail)) {
    fail(`podman ${args.join(' ')}: exit ${r.status}: ${(r.stderr || '').trim()}`);
  }
  return opts && opts.allowFail ? r : (r.stdout || '').trim();
}
function timed(label, fn) {
  const start = Date.now();
  const out = fn();
  timings.push({step: label, seconds: (Date.now() - start) / 1000});
  say(`${label}: ${((Date.now() - start) / 1000).toFixed(1)} s`);
  return out;
}
// Polls `fn` until it returns a truthy value or the deadline passes; `what` names the condition.
function waitFor(what, fn, seconds) {
  const end = Date.now() + 1000 * (seconds || DEADLINE_S);
  let last;
  while (Date.now() < end) {
    last = fn();
    if (last && last.ok !== false) return last;
    sleepMs(1000);
  }
  fail(`timed out after ${seconds || DEADLINE_S} s waiting for ${what}${last && last.why ? `: ${last.why}` : ''}`);
}

// ---- render ----

function render() {
  const image = process.env.PLEXUS_REHEARSAL_IMAGE;
  const pin = process.env.PLEXUS_REHEARSAL_PLUGIN_SHA256;
  if (!/^localhost\/plexus-host:[A-Za-z0-9._-]+$/.test(image || '')) fail('PLEXUS_REHEARSAL_IMAGE must be localhost/plexus-host:<tag>');
  if (!/^[0-9a-f]{64}$/.test(pin || '')) fail('PLEXUS_REHEARSAL_PLUGIN_SHA256 must be the drop-in plugin\'s sha256');
  fs.mkdirSync(WORK, {recursive: true});
  // A kustomization on top of overlays/local: the image just built and the plugin's pin.
  fs.writeFileSync(path.join(WORK, 'kustomization.yaml'), [
    '# Written by tests/container/rehearsal.js: overlays/local with the images of this run.',
    'apiVersion: kustomize.config.k8s.io/v1beta1',
    'kind: Kustomization',
    'resources: [../../kustomize/overlays/local]',
    'images:',
    `  - {name: localhost/plexus-host, newTag: "${image.split(':')[1]}"}`,
    'configMapGenerator:',
    '  - name: drop-in-plugins',
    '    namespace: ecommerce',
    '    behavior: merge',
    `    literals: [PLEXUS_ORDER_AUDIT_SHA256=${pin}]`,
    ''].join('\n'));
  const r = c.run('kubectl', ['kustomize', WORK]);
  if (r.status !== 0) fail(`kubectl kustomize ${WORK}: ${r.stderr}`);
  fs.writeFileSync(path.join(WORK, 'rendered.yaml'), r.stdout);
  return c.tool('js-yaml').loadAll(r.stdout).filter(Boolean);
}

// ---- podman shapes of the objects ----

const isHostPod = (tmpl) => ((tmpl.metadata || {}).labels || {})['app.kubernetes.io/name'] === 'plexus-host';
const podName = (w) => (w.kind === 'Deployment' ? `${w.metadata.name}-pod-0` : w.metadata.name);
const containerName = (w, ctr) => `${podName(w)}-${ctr}`;

// A Job's pod template as a Pod (podman kube play runs no Jobs); restartPolicy as the Job's.
function jobAsPod(job) {
  const t = JSON.parse(JSON.stringify(job.spec.template));
  return {apiVersion: 'v1', kind: 'Pod',
          metadata: {name: job.metadata.name, namespace: job.metadata.namespace, labels: t.metadata.labels},
          spec: t.spec};
}

// What podman needs changed, and nothing else: /etc/hosts entries for the Services (no cluster
// DNS); no container ports, because podman 4.3 publishes every containerPort on the host (pods
// reach each other on the network, and the probes and the scenario use the pod IPs, as the
// kubelet and a Service would); init containers kept after they ran (podman 4.3 races when it
// removes "once" ones).
function forPodman(obj, aliases) {
  const o = JSON.parse(JSON.stringify(obj));
  const spec = o.kind === 'Pod' ? o.spec : o.spec.template.spec;
  const meta = o.kind === 'Pod' ? o.metadata : o.spec.template.metadata;
  if (aliases.length) spec.hostAliases = aliases;
  for (const ctr of spec.containers.concat(spec.initContainers || [])) delete ctr.ports;
  if (spec.initContainers) {
    // podman reads it from the Deployment's own metadata, and from a Pod's.
    for (const m of [meta, o.metadata]) {
      m.annotations = Object.assign({}, m.annotations, {'io.podman.annotations.init.container.type': 'always'});
    }
  }
  return o;
}

// podman 4.3 stores a Secret from kube play YAML in a form its own secretKeyRef lookup cannot
// read; a podman secret holding the JSON map key -> base64 value is what it reads.
function createSecrets(secrets, created) {
  for (const s of secrets) {
    const data = Object.assign({}, s.data || {});
    for (const [k, v] of Object.entries(s.stringData || {})) data[k] = Buffer.from(v).toString('base64');
    for (const k of Object.keys(data)) data[k] = String(data[k]).replace(/\s+/g, '');
    const file = path.join(WORK, `secret-${s.metadata.name}.json`);
    fs.writeFileSync(file, JSON.stringify(data), {mode: 0o600});
    podman(['secret', 'create', s.metadata.name, file]);
    fs.rmSync(file);
    created.secrets.push(s.metadata.name);
  }
}

function play(label, objects, configMaps, created) {
  const yaml = c.tool('js-yaml');
  const file = path.join(WORK, `play-${label}.yaml`);
  fs.writeFileSync(file, configMaps.concat(objects).map((d) => yaml.dump(d, {lineWidth: -1})).join('---\n'));
  created.plays.push(file);
  podman(['kube', 'play', '--network', NETWORK, file]);
}

function ipOf(w) {
  const ctr = (w.kind === 'Pod' ? w.spec : w.spec.template.spec).containers[0].name;
  return podman(['inspect', containerName(w, ctr), '--format', `{{(index .NetworkSettings.Networks "${NETWORK}").IPAddress}}`]);
}

// /etc/hosts entries that stand in for the Services: each name resolves to the (one) running pod
// its selector picks. A Service that selects no running pod, or several workloads, is an error.
function serviceAliases(services, running) {
  const out = [];
  for (const svc of services) {
    const picked = running.filter((w) => c.selects(svc.spec.selector, (w.kind === 'Pod' ? w.metadata : w.spec.template.metadata).labels));
    if (picked.length === 0) continue;
    if (picked.length > 1) fail(`Service ${svc.metadata.name} selects several workloads: ${picked.map((w) => w.metadata.name).join(', ')}`);
    const n = svc.metadata.name;
    const ns = svc.metadata.namespace;
    out.push({ip: ipOf(picked[0]), hostnames: [n, `${n}.${ns}`, `${n}.${ns}.svc`, `${n}.${ns}.svc.cluster.local`]});
  }
  return out;
}

// ---- probes, as the kubelet runs them ----

function configOf(w, configMaps) {
  const spec = w.spec.template.spec;
  const vol = (spec.volumes || []).find((v) => v.name === 'config' && v.configMap);
  const cm = vol && configMaps.find((m) => m.metadata.name === vol.configMap.name);
  return cm ? JSON.parse(cm.data['config.json']) : null;
}

// The probe's port number. A host probed on `management` whose config has no
// http.management_port yet (the host's management listener is not merged on this branch) is
// probed on `http` instead, and the rehearsal says so.
function probePort(w, container, port, configMaps, notes) {
  let name = port;
  if (name === 'management' && isHostPod(w.spec.template)) {
    const cfg = configOf(w, configMaps);
    if (cfg && !(cfg.http && cfg.http.management_port !== undefined)) {
      notes.add(`${w.metadata.name}: config has no http.management_port: probed on port http instead of management`);
      name = 'http';
    }
  }
  if (typeof name === 'number') return name;
  const p = (container.ports || []).find((x) => x.name === name);
  if (!p) fail(`${w.metadata.name}: probe names port ${name}, which container ${container.name} does not declare`);
  return p.containerPort;
}

function probeOnce(w, container, probe, ip, configMaps, notes) {
  if (probe.httpGet) {
    const port = probePort(w, container, probe.httpGet.port, configMaps, notes);
    const r = c.run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', String(probe.timeoutSeconds || 1),
                             `http://${ip}:${port}${probe.httpGet.path || '/'}`]);
    const code = Number(r.stdout);
    return {ok: code >= 200 && code < 400, why: `GET ${probe.httpGet.path} on ${port}: ${r.stdout || 'no answer'}`};
  }
  if (probe.tcpSocket) {
    const port = probePort(w, container, probe.tcpSocket.port, configMaps, notes);
    const r = c.run('timeout', ['2', 'bash', '-c', `exec 3<>/dev/tcp/${ip}/${port}`]);
    return {ok: r.status === 0, why: `TCP ${port} refused`};
  }
  if (probe.exec) {
    const r = c.run('podman', ['exec', containerName(w, container.name)].concat(probe.exec.command));
    return {ok: r.status === 0, why: `${probe.exec.command.join(' ')}: exit ${r.status}`};
  }
  fail(`${w.metadata.name}: unsupported probe ${JSON.stringify(probe)}`);
}

function waitReady(w, configMaps, notes) {
  const container = w.spec.template.spec.containers[0];
  const probe = container.readinessProbe;
  if (!probe) fail(`${w.metadata.name} has no readinessProbe`);
  try {
    return waitForReady(w, container, probe, configMaps, notes);
  } catch (e) {
    fail(`${e.message}\n  log of ${containerName(w, container.name)}:\n${logs(containerName(w, container.name))}`);
  }
}

function waitForReady(w, container, probe, configMaps, notes) {
  return waitFor(`${w.metadata.name} ready`, () => {
    const state = podman(['inspect', containerName(w, container.name), '--format', '{{.State.Status}} {{.State.ExitCode}}'],
                         {allowFail: true});
    if (state.status !== 0) return {ok: false, why: 'no container yet'};
    const [status, code] = state.stdout.trim().split(' ');
    if (status === 'exited') fail(`${containerName(w, container.name)} exited with code ${code}:\n${logs(containerName(w, container.name))}`);
    return probeOnce(w, container, probe, ipOf(w), configMaps, notes);
  });
}

function waitCompleted(pod) {
  const name = containerName(pod, pod.spec.containers[0].name);
  return waitFor(`${pod.metadata.name} to complete`, () => {
    const r = podman(['inspect', name, '--format', '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}'], {allowFail: true});
    if (r.status !== 0) return {ok: false, why: 'no container yet'};
    const [status, code, restarts] = r.stdout.trim().split(' ');
    if (status === 'exited' && code === '0') return {ok: true, restarts: Number(restarts)};
    if (Number(restarts) > (pod.spec.restartPolicy === 'Never' ? 0 : 3)) fail(`${name} failed ${restarts} times:\n${logs(name)}`);
    return {ok: false, why: `${status} (exit ${code}, ${restarts} restarts)`};
  });
}

function logs(name) {
  const r = c.run('podman', ['logs', '--tail', '30', name]);
  return `${r.stdout}${r.stderr}`.trim().split('\n').map((l) => `    ${l}`).join('\n');
}

// ---- the scenario, through the Services' pods ----

function endpoint(services, aliases, name, portName) {
  const svc = services.find((s) => s.metadata.name === name) || fail(`no Service ${name}`);
  const a = aliases.find((x) => x.hostnames[0] === name) || fail(`Service ${name} selects no running pod`);
  const port = svc.spec.ports.find((p) => p.name === portName) || fail(`Service ${name} has no port ${portName}`);
  return {ip: a.ip, targetPort: port.targetPort};
}

function http(url, method, body, headers) {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '--max-time', '10', '-X', method || 'GET', url];
  for (const [k, v] of Object.entries(headers || {})) args.push('-H', `${k}: ${v}`);
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', body);
  const r = c.run('curl', args);
  const out = r.stdout || '';
  const cut = out.lastIndexOf('\n');
  return {status: Number(out.slice(cut + 1)), body: out.slice(0, cut)};
}

// On a failed step of the scenario: the state and log of the Deployment it talked to.
function diagnose(w) {
  const name = containerName(w, w.spec.template.spec.containers[0].name);
  const st = podman(['inspect', name, '--format', '{{.State.Status}} exit {{.State.ExitCode}}, {{.RestartCount}} restarts, OOMKilled {{.State.OOMKilled}}'], {allowFail: true});
  return `\n  ${name}: ${(st.stdout || st.stderr || '').trim()}\n  log:\n${logs(name)}`;
}

function scenario(docs, services, aliases) {
  // Service ports name a container port; the pods answer on the container port itself.
  const base = (svc) => {
    const e = endpoint(services, aliases, svc, 'http');
    const w = docs.find((d) => d.kind === 'Deployment' && c.selects(services.find((s) => s.metadata.name === svc).spec.selector,
                                                                        d.spec.template.metadata.labels));
    const port = w.spec.template.spec.containers[0].ports.find((p) => p.name === e.targetPort).containerPort;
    return `http://${e.ip}:${port}`;
  };
  const orders = base('order-service');
  const inventory = base('inventory-worker');
  const analytics = base('analytics-service');
  const shipping = base('shipping-worker');
  const product = `sku-rehearsal-${process.pid}`;
  let r = http(`${inventory}/api/inventory/${product}`, 'PUT', JSON.stringify({availableStock: 5}));
  if (r.status !== 200 && r.status !== 201) fail(`PUT /api/inventory/${product}: ${r.status} ${r.body}`);
  r = http(`${orders}/api/orders`, 'POST', JSON.stringify({
    customerId: 'rehearsal-customer', items: [{productId: product, quantity: 2, unitPrice: 19.99}],
    shippingAddress: {street: '1 Main St', city: 'Springfield', state: 'IL', zipCode: '62701', country: 'US'}}));
  if (r.status !== 201) fail(`POST /api/orders: ${r.status} ${r.body}`);
  const order = JSON.parse(r.body);
  say(`order ${order.orderId} placed (${order.totalAmount})`);
  const shipped = timed('order placed -> read back Shipped', () => waitFor(`order ${order.orderId} Shipped`, () => {
    const g = http(`${orders}/api/orders/${order.orderId}`);
    const o = g.status === 200 ? JSON.parse(g.body) : {};
    return o.status === 'Shipped' ? o : {ok: false, why: `status ${o.status || g.status}`};
  }, 180));
  say(`order ${order.orderId} Shipped: payment ${shipped.paymentInfo.status}, tracking ${shipped.shipmentInfo.trackingNumber}`);
  // The drop-in plugin (a third party's .so, copied in by an initContainer) saw OrderCreated.
  const workload = (svc) => docs.find((d) => d.kind === 'Deployment' &&
      c.selects(services.find((x) => x.metadata.name === svc).spec.selector, d.spec.template.metadata.labels));
  let audit;
  try {
    audit = waitFor('the drop-in plugin order_audit to record the order', () => {
      const g = http(`${analytics}/api/order-audit/${order.orderId}`);
      return g.status === 200 ? JSON.parse(g.body) : {ok: false, why: `${g.status} ${g.body}`};
    }, 60);
  } catch (e) {
    fail(`${e.message} (GET ${analytics}/api/order-audit/${order.orderId})${diagnose(workload('analytics-service'))}`);
  }
  say(`drop-in plugin order_audit on analytics-worker recorded ${audit.orderId}`);
  // The carrier confirms delivery: unsigned is refused, signed with the Secret's key is taken.
  const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name.startsWith('shipping-worker-secrets'));
  const key = Buffer.from(secret.data['webhook-secret'], 'base64').toString();
  const body = JSON.stringify({trackingNumber: shipped.shipmentInfo.trackingNumber, status: 'Delivered',
                               location: 'Springfield, IL', timestamp: new Date().toISOString()});
  r = http(`${shipping}/api/webhooks/fedex/tracking`, 'POST', body);
  if (r.status !== 401) fail(`an unsigned carrier webhook got ${r.status}, expected 401: ${r.body}`);
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = crypto.createHmac('sha256', key).update(`${ts}.${body}`).digest('hex');
  r = http(`${shipping}/api/webhooks/fedex/tracking`, 'POST', body, {'X-Webhook-Timestamp': ts, 'X-Webhook-Signature': `sha256=${sig}`});
  if (r.status !== 200) fail(`the signed carrier webhook got ${r.status}: ${r.body}`);
  waitFor(`order ${order.orderId} Delivered`, () => {
    const g = http(`${orders}/api/orders/${order.orderId}`);
    const o = g.status === 200 ? JSON.parse(g.body) : {};
    return o.status === 'Delivered' ? o : {ok: false, why: `status ${o.status || g.status}`};
  }, 120);
  say(`order ${order.orderId} Delivered (signed webhook accepted, unsigned one refused with 401)`);
}

// ---- teardown: only what this run created ----

function teardown(created) {
  const volumes = new Set(created.volumes);
  for (const file of created.plays.slice().reverse()) {
    for (const pod of created.pods.filter((p) => p.file === file)) {
      const r = podman(['pod', 'inspect', pod.name, '--format', '{{range .Containers}}{{.Name}} {{end}}'], {allowFail: true});
      for (const ctr of (r.stdout || '').trim().split(/\s+/).filter(Boolean)) {
        const m = podman(['inspect', ctr, '--format', '{{range .Mounts}}{{.Name}} {{end}}'], {allowFail: true});
        for (const v of (m.stdout || '').trim().split(/\s+/).filter(Boolean)) volumes.add(v);
      }
    }
    podman(['kube', 'down', file], {allowFail: true});
  }
  for (const v of volumes) podman(['volume', 'rm', '--force', v], {allowFail: true});
  for (const s of created.secrets) podman(['secret', 'rm', s], {allowFail: true});
  if (created.network) podman(['network', 'rm', '--force', NETWORK], {allowFail: true});
}

function main() {
  const docs = timed('render overlays/local', render);
  const kinds = {};
  for (const d of docs) kinds[d.kind] = (kinds[d.kind] || 0) + 1;
  say(`rendered: ${Object.entries(kinds).map(([k, n]) => `${n} ${k}`).join(', ')}`);
  const configMaps = docs.filter((d) => d.kind === 'ConfigMap');
  const secrets = docs.filter((d) => d.kind === 'Secret');
  const services = docs.filter((d) => d.kind === 'Service');
  const pvcs = docs.filter((d) => d.kind === 'PersistentVolumeClaim');
  const deployments = docs.filter((d) => d.kind === 'Deployment');
  const servers = deployments.filter((d) => !isHostPod(d.spec.template));
  const hosts = deployments.filter((d) => isHostPod(d.spec.template));
  const jobs = docs.filter((d) => d.kind === 'Job').map(jobAsPod);
  const skipped = docs.filter((d) => !['ConfigMap', 'Secret', 'Service', 'PersistentVolumeClaim', 'Deployment', 'Job'].includes(d.kind));
  say(`podman runs no ${[...new Set(skipped.map((d) => d.kind))].join(', ')} (checked by the deploy tier); Services become /etc/hosts entries`);

  for (const w of deployments.concat(jobs)) {
    if (podman(['pod', 'exists', podName(w)], {allowFail: true}).status === 0) {
      fail(`a pod ${podName(w)} already exists: another rehearsal runs, or a failed one was kept (podman pod rm -f ${podName(w)})`);
    }
  }
  const created = {plays: [], pods: [], secrets: [], volumes: configMaps.map((m) => m.metadata.name).concat(pvcs.map((p) => p.metadata.name)), network: false};
  const notes = new Set();
  let ok = false;
  try {
    if (podman(['network', 'exists', NETWORK], {allowFail: true}).status !== 0) {
      podman(['network', 'create', NETWORK]);
      created.network = true;
    }
    createSecrets(secrets, created);
    const record = (label, ws) => {
      for (const w of ws) created.pods.push({name: podName(w), file: path.join(WORK, `play-${label}.yaml`)});
    };
    timed('servers (PostgreSQL, RabbitMQ) ready', () => {
      record('servers', servers);
      play('servers', pvcs.concat(servers.map((w) => forPodman(w, []))), configMaps, created);
      for (const w of servers) waitReady(w, configMaps, notes);
    });
    let aliases = serviceAliases(services, servers);
    timed(`migrate Jobs (${jobs.length}, as Pods) complete`, () => {
      record('migrate', jobs);
      play('migrate', jobs.map((j) => forPodman(j, aliases)), configMaps, created);
      for (const j of jobs) waitCompleted(j);
    });
    timed(`host Deployments (${hosts.length}) ready`, () => {
      record('hosts', hosts);
      play('hosts', hosts.map((w) => forPodman(w, aliases)), configMaps, created);
      for (const w of hosts) waitReady(w, configMaps, notes);
    });
    aliases = serviceAliases(services, servers.concat(hosts));
    // Readiness stays 200 while the broker is only "degraded" (commands still go into the outbox);
    // an event published before a consumer's queues exist would miss them: wait for every host's
    // broker connection, as the e2e tests do.
    timed('every host connected to RabbitMQ', () => {
      for (const w of hosts) {
        const port = w.spec.template.spec.containers[0].ports.find((p) => p.name === 'http').containerPort;
        waitFor(`${w.metadata.name}: "broker":"connected" in /health/ready`, () => {
          const g = http(`http://${ipOf(w)}:${port}/health/ready`);
          return g.body.includes('"broker":"connected"') ? {ok: true} : {ok: false, why: `${g.status} ${g.body}`};
        }, 120);
      }
    });
    for (const n of notes) say(`note: ${n}`);
    scenario(docs, services, aliases);
    ok = true;
  } finally {
    if (!ok && process.env.PLEXUS_REHEARSAL_KEEP === '1') {
      say(`kept for inspection (PLEXUS_REHEARSAL_KEEP=1): podman pod ps; remove with podman kube down ${created.plays.join(' ')}`);
    } else {
      timed('teardown', () => teardown(created));
    }
    fs.writeFileSync(path.join(WORK, 'timings.json'), JSON.stringify({ok, total_seconds: (Date.now() - t0) / 1000, timings}, null, 2));
  }
  say(`PASS in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`[rehearsal] FAIL: ${e.message}\n`);
  process.exit(1);
}
