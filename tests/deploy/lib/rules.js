'use strict';
// The static rehearsal's rules over rendered objects (and the workflow and Bicep text they must
// agree with). Each rule is a function (input) -> [problem, ...]; deploy.rules runs them on every
// whole-system overlay, deploy.rules-fail feeds each one a broken input and expects a problem, so
// no rule can pass vacuously.
const fs = require('fs');
const path = require('path');
const c = require('./common');
const m = require('./cluster-model');

const HOST = 'plexus-host';
const labelsOf = (t) => ((t && t.metadata) || {}).labels || {};

// Every pod the objects make: their templates, and the pods operators make (RabbitmqCluster).
function podsOf(docs) {
  const byKey = new Map(docs.map((d) => [m.keyOf(d), d]));
  const get = (kind, ns, name) => byKey.get(m.key(kind, ns, name)) || null;
  const out = [];
  for (const d of docs) {
    const t = m.templateOf(d);
    if (t) out.push({owner: d, template: t});
    for (const p of m.produced(d, get)) {
      const pt = m.templateOf(p);
      if (pt) out.push({owner: p, template: pt, produced: true});
    }
  }
  return out;
}

// R1: what every pod needs exists, in this render, made by an operator, or installed by the
// bootstrap (the namespace); every kind is built in or comes with a prerequisite CRD.
function references(docs, opts) {
  const problems = [];
  const all = docs.slice();
  for (const b of (opts && opts.bootstrap) || []) all.push(b);
  const byKey = new Map();
  const add = (o) => byKey.set(m.keyOf(o), o);
  all.forEach(add);
  for (const d of all) m.produced(d, (k, ns, n) => byKey.get(m.key(k, ns, n)) || null).forEach(add);
  const get = (kind, ns, name) => byKey.get(m.key(kind, ns, name)) || (kind === 'ServiceAccount' && name === 'default' ? {} : null);
  for (const d of docs) {
    const info = m.kindInfo(d.apiVersion, d.kind);
    if (!info) {
      problems.push(`${c.id(d)}: kind ${d.apiVersion}/${d.kind} is neither built in nor from a prerequisite CRD`);
      continue;
    }
    if (info.namespaced && !get('Namespace', undefined, d.metadata.namespace)) {
      problems.push(`${c.id(d)}: namespace ${d.metadata.namespace} is neither rendered nor made by kustomize/bootstrap`);
    }
  }
  // Secrets the CSI driver syncs for any pod that can run.
  const synced = podsOf(docs).flatMap((p) => m.syncedSecrets(p.template, p.owner.metadata.namespace, get));
  for (const p of podsOf(docs)) {
    if (p.produced) continue;
    for (const miss of m.missingForPod(p.template, p.owner.metadata.namespace, get, synced)) {
      problems.push(`${c.id(p.owner)}: ${miss}`);
    }
  }
  for (const h of docs.filter((d) => d.kind === 'HorizontalPodAutoscaler')) {
    const t = h.spec.scaleTargetRef;
    if (!get(t.kind, h.metadata.namespace, t.name)) problems.push(`${c.id(h)}: scaleTargetRef ${t.kind} ${t.name} does not exist`);
  }
  for (const i of docs.filter((d) => d.kind === 'Ingress')) {
    for (const rule of i.spec.rules || []) {
      for (const p of rule.http.paths) {
        const svc = get('Service', i.metadata.namespace, p.backend.service.name);
        if (!svc) problems.push(`${c.id(i)}: path ${p.path}: no Service ${p.backend.service.name}`);
        else if (!(svc.spec.ports || []).some((sp) => sp.name === p.backend.service.port.name || sp.port === p.backend.service.port.number)) {
          problems.push(`${c.id(i)}: path ${p.path}: Service ${svc.metadata.name} has no port ${JSON.stringify(p.backend.service.port)}`);
        }
      }
    }
  }
  for (const d of docs.filter((x) => x.kind === 'Certificate')) {
    const ik = d.spec.issuerRef.kind || 'Issuer';
    if (ik === 'Issuer' && !get('Issuer', d.metadata.namespace, d.spec.issuerRef.name)) {
      problems.push(`${c.id(d)}: issuer ${d.spec.issuerRef.name} does not exist`);
    }
  }
  return problems;
}

// R2: selectors pick exactly the pods they mean. Services and PodDisruptionBudgets: the serving
// pods of one workload (never a Job's pods); Deployments: only their own pods; ServiceMonitors:
// only host Services; NetworkPolicies: some pod (or every pod, with {}).
function selectors(docs) {
  const problems = [];
  const pods = podsOf(docs);
  const picked = (sel, ns) => pods.filter((p) => p.owner.metadata.namespace === ns && sel && c.selects(sel, labelsOf(p.template)));
  const describe = (ps) => ps.map((p) => `${p.owner.kind} ${p.owner.metadata.name}`).join(', ');
  const workloadOf = (p) => labelsOf(p.template)['app.kubernetes.io/instance'] || p.owner.metadata.name;
  for (const d of docs) {
    let sel = null;
    let what = null;
    if (d.kind === 'Service') {
      sel = d.spec.selector;
      what = 'Service';
    } else if (d.kind === 'PodDisruptionBudget') {
      sel = d.spec.selector;
      what = 'PodDisruptionBudget';
    } else continue;
    const ps = picked(sel, d.metadata.namespace);
    if (!ps.length) problems.push(`${c.id(d)}: selects no pod`);
    const jobs = ps.filter((p) => p.owner.kind === 'Job');
    if (jobs.length) problems.push(`${c.id(d)}: ${what} selects Job pods (${describe(jobs)})`);
    const workloads = new Set(ps.filter((p) => p.owner.kind !== 'Job').map(workloadOf));
    if (workloads.size > 1) problems.push(`${c.id(d)}: ${what} selects pods of several workloads: ${[...workloads].join(', ')}`);
  }
  for (const d of docs.filter((x) => x.kind === 'Deployment')) {
    const others = picked(d.spec.selector.matchLabels ? {matchLabels: d.spec.selector.matchLabels, matchExpressions: d.spec.selector.matchExpressions} : d.spec.selector, d.metadata.namespace)
      .filter((p) => p.owner !== d);
    if (others.length) problems.push(`${c.id(d)}: its selector also matches ${describe(others)}`);
  }
  for (const sm of docs.filter((x) => x.kind === 'ServiceMonitor')) {
    const svcs = docs.filter((s) => s.kind === 'Service' && c.selects(sm.spec.selector, labelsOf(s)));
    const notHost = svcs.filter((s) => !picked(s.spec.selector, s.metadata.namespace).every((p) => labelsOf(p.template)['app.kubernetes.io/name'] === HOST));
    if (!svcs.length) problems.push(`${c.id(sm)}: selects no Service`);
    if (notHost.length) problems.push(`${c.id(sm)}: selects Services of other pods: ${notHost.map((s) => s.metadata.name).join(', ')}`);
    for (const s of svcs) {
      for (const ep of sm.spec.endpoints || []) {
        if (!(s.spec.ports || []).some((p) => p.name === ep.port)) problems.push(`${c.id(sm)}: Service ${s.metadata.name} has no port ${ep.port}`);
      }
    }
  }
  for (const np of docs.filter((x) => x.kind === 'NetworkPolicy')) {
    if (Object.keys(np.spec.podSelector || {}).length === 0) continue;
    if (!picked(np.spec.podSelector, np.metadata.namespace).length) problems.push(`${c.id(np)}: podSelector selects no pod`);
  }
  return problems;
}

// R3: fields a controller owns are not in the manifests, so an apply cannot reset them: the
// replicas of a Deployment an HPA scales.
function ownedFields(docs) {
  const problems = [];
  for (const h of docs.filter((d) => d.kind === 'HorizontalPodAutoscaler')) {
    const d = docs.find((x) => x.kind === h.spec.scaleTargetRef.kind && x.metadata.name === h.spec.scaleTargetRef.name);
    if (d && d.spec.replicas !== undefined) {
      problems.push(`${c.id(d)}: spec.replicas ${d.spec.replicas} in the manifest would reset what HPA ${h.metadata.name} scaled (leave replicas to the HPA)`);
    }
  }
  return problems;
}

function imagesOf(docs) {
  const out = [];
  for (const d of docs) {
    const t = m.templateOf(d);
    if (t) for (const ct of (t.spec.initContainers || []).concat(t.spec.containers || [])) out.push({where: c.id(d), image: ct.image});
    if (d.kind === 'RabbitmqCluster') out.push({where: c.id(d), image: d.spec.image});
  }
  return out;
}

// R4: every image is one the pipeline pushes: in the environment's registry, plexus-host at a
// commit, third-party images only as the pipeline's mirrors of infra/mirror-images.txt. Local
// overlays (dev, local) run images built here (localhost/) or pinned public ones.
function images(docs, opts) {
  const problems = [];
  const mirror = fs.readFileSync(path.join(c.ROOT, 'infra', 'mirror-images.txt'), 'utf8').split('\n')
      .filter((l) => l && !l.startsWith('#')).map((l) => l.replace(/^[^/]+\//, ''));
  for (const {where, image} of imagesOf(docs)) {
    if (!image || /:latest$/.test(image) || !/(:[\w.-]+|@sha256:[0-9a-f]{64})$/.test(image.split('/').pop())) {
      problems.push(`${where}: image '${image}' is not pinned (a version tag or digest, never latest)`);
      continue;
    }
    if (!opts.registry) {
      if (!/^localhost\//.test(image) && !/^[a-z0-9.-]+\/[a-z0-9._/-]+:[0-9][\w.-]*$/.test(image)) {
        problems.push(`${where}: image '${image}' is neither built here (localhost/) nor a pinned public image`);
      }
      continue;
    }
    if (!image.startsWith(`${opts.registry}/`)) {
      problems.push(`${where}: image '${image}' is not in the environment's registry ${opts.registry}`);
      continue;
    }
    const rest = image.slice(opts.registry.length + 1);
    if (rest.startsWith('plexus-host:')) {
      if (!/^plexus-host:[0-9a-f]{7,40}$/.test(rest)) problems.push(`${where}: plexus-host must be pinned to a commit (the tag the pipeline pushes), got '${rest}'`);
    } else if (!(rest.startsWith('mirror/') && mirror.includes(rest.slice('mirror/'.length)))) {
      problems.push(`${where}: '${rest}' is neither plexus-host nor a mirror of infra/mirror-images.txt (the pipeline pushes nothing else)`);
    }
  }
  return problems;
}

// R5: the workflow types no Azure name: every name an `az` command gets comes from
// infra/environments/<env>.json (jq) or from a variable set from it; the keys it reads exist.
function azureNames(workflowText, envFiles) {
  const problems = [];
  const text = workflowText.replace(/\\\n/g, ' ');
  for (const line of text.split('\n')) {
    const cmd = line.trim().replace(/^- run:\s*/, '');
    if (!/^\s*(az|docker|kubectl)\s/.test(cmd) && !/\baz\s+(acr|aks|keyvault|deployment|identity|postgres)\b/.test(cmd)) continue;
    const re = /(--name|--resource-group|-n|-g|--registry)[= ]("[^"]*"|'[^']*'|\S+)/g;
    let mm;
    while ((mm = re.exec(cmd))) {
      const v = mm[2].replace(/^["']|["']$/g, '');
      if (!/\$\(jq |\$\{|\$[A-Za-z_]/.test(v)) problems.push(`workflow: '${cmd.slice(0, 120)}' names an Azure resource literally (${v}): read it from infra/environments/<env>.json`);
    }
  }
  for (const mm of text.matchAll(/jq -r (\.[\w.]+) infra\/environments\/(\w+)\.json/g)) {
    let v = envFiles[mm[2]];
    for (const k of mm[1].slice(1).split('.')) v = v === undefined ? undefined : v[k];
    if (v === undefined) problems.push(`workflow: infra/environments/${mm[2]}.json has no ${mm[1]}`);
  }
  for (const e of Object.keys(envFiles)) {
    if (!new RegExp(`scripts/deploy ${e} apply`).test(text)) problems.push(`workflow: never deploys ${e} with scripts/deploy`);
  }
  if (/kubectl (apply|delete|create|patch|scale)/.test(text)) problems.push('workflow: changes the cluster with kubectl directly; scripts/deploy holds the one sequence');
  return problems;
}

// R5 (Bicep side): resources are named from the environment file, never literally.
function bicepNames(bicepText) {
  const problems = [];
  const re = /^resource\s+(\w+)\s+'([^'@]+)@[^']+'\s*=\s*(?:\[for [^\]]+\]\s*)?(?:\[for[^:]+:\s*)?\{\s*\n((?:\s+(?:parent|scope):.*\n)*)\s+name:\s*(.+)$/gm;
  let mm;
  let n = 0;
  while ((mm = re.exec(bicepText))) {
    n++;
    const [, sym, type, , name] = mm;
    const child = type.split('/').length > 2;
    const special = /roleAssignments|diagnosticSettings|federatedIdentityCredentials|privateDnsZones/.test(type);
    if (!child && !special && !/\benv\.(names|resourceGroup)\b/.test(name)) {
      problems.push(`Bicep ${sym} (${type}): name ${name.trim()} does not come from the environment file (env.names.*)`);
    }
  }
  if (!n) problems.push('Bicep: no resources found');
  return problems;
}

// The ServiceAccounts Azure trusts (Bicep's federated credentials) are exactly those that carry
// the workload identity's client id in the render.
function federation(docs, bicepText) {
  const problems = [];
  const m1 = bicepText.match(/var deployments = \[([\s\S]*?)\]/);
  const m2 = bicepText.match(/var workloadServiceAccounts = concat\(deployments, \[([\s\S]*?)\]\)/);
  if (!m1 || !m2) return ['Bicep: no deployments / workloadServiceAccounts lists'];
  const names = (s) => [...s.matchAll(/'([a-z0-9-]+)'/g)].map((x) => x[1]);
  const trusted = new Set(names(m1[1]).concat(names(m2[1])));
  const annotated = docs.filter((d) => d.kind === 'ServiceAccount' &&
      ((d.metadata.annotations || {})['azure.workload.identity/client-id'])).map((d) => d.metadata.name);
  for (const sa of annotated) if (!trusted.has(sa)) problems.push(`ServiceAccount ${sa} uses workload identity, but infra/resources.bicep has no federated credential for it`);
  for (const sa of trusted) if (!annotated.includes(sa)) problems.push(`infra/resources.bicep federates ServiceAccount ${sa}, which the manifests do not have (or do not annotate)`);
  return problems;
}

module.exports = {podsOf, references, selectors, ownedFields, images, azureNames, bicepNames, federation};
