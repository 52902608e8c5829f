#!/usr/bin/env node
'use strict';
// deploy.rules-fail: every rule of lib/rules.js, fed a broken copy of a real input, must report
// the breakage (a rule that cannot fail proves nothing).
const fs = require('fs');
const path = require('path');
const c = require('./lib/common');
const rules = require('./lib/rules');

const r = new c.Report('deploy.rules-fail');
const bootstrap = c.renderPath(path.join(c.KUSTOMIZE, 'bootstrap'));
const envFile = JSON.parse(fs.readFileSync(path.join(c.ROOT, 'infra', 'environments', 'production.json'), 'utf8'));
const opts = {bootstrap, registry: `${envFile.names.acr}.azurecr.io`};
const base = c.render('production');
const fresh = () => JSON.parse(JSON.stringify(base));
const find = (docs, kind, name) => docs.find((d) => d.kind === kind && d.metadata.name.replace(/-[a-z0-9]{10}$/, '') === name);

// A case: a name, how to break a fresh copy of the production render, the rule, and the problem
// it must then report (a fragment).
const cases = [
  ['a ServiceAccount missing', (d) => d.splice(d.indexOf(find(d, 'ServiceAccount', 'customer-service')), 1),
   rules.references, 'ServiceAccount customer-service (serviceAccountName) not found'],
  ['a ConfigMap missing', (d) => d.splice(d.indexOf(find(d, 'ConfigMap', 'host-environment')), 1),
   rules.references, 'ConfigMap host-environment'],
  ['a Secret key nobody syncs', (d) => {
    find(d, 'SecretProviderClass', 'payment-worker-secrets').spec.secretObjects[0].data.pop();
  }, rules.references, 'Secret payment-worker-secrets has no key postgres-password'],
  ['a kind without its CRD', (d) => {
    find(d, 'RabbitmqCluster', 'rabbitmq').apiVersion = 'rabbitmq.com/v2';
  }, rules.references, 'neither built in nor from a prerequisite CRD'],
  ['an HPA without its target', (d) => {
    find(d, 'HorizontalPodAutoscaler', 'order-service-blue').spec.scaleTargetRef.name = 'order-service';
  }, rules.references, 'scaleTargetRef Deployment order-service does not exist'],
  ['a Service that also selects the migrate Job', (d) => {
    delete find(d, 'Service', 'customer-service').spec.selector['app.kubernetes.io/component'];
  }, rules.selectors, 'Service selects Job pods (Job customer-service-migrate)'],
  ['a PDB that also selects the migrate Job', (d) => {
    delete find(d, 'PodDisruptionBudget', 'payment-worker').spec.selector.matchLabels['app.kubernetes.io/component'];
  }, rules.selectors, 'PodDisruptionBudget selects Job pods'],
  ['a Service across workloads', (d) => {
    find(d, 'Service', 'inventory-worker').spec.selector = {'app.kubernetes.io/component': 'host'};
  }, rules.selectors, 'selects pods of several workloads'],
  ['a NetworkPolicy that selects nothing', (d) => {
    find(d, 'NetworkPolicy', 'notification-worker-smtp').spec.podSelector.matchLabels['app.kubernetes.io/instance'] = 'notifications';
  }, rules.selectors, 'podSelector selects no pod'],
  ['a ServiceMonitor port no Service has', (d) => {
    find(d, 'ServiceMonitor', 'plexus-host').spec.endpoints[0].port = 'metrics';
  }, rules.selectors, 'has no port metrics'],
  ['replicas under an HPA', (d) => {
    find(d, 'Deployment', 'order-service-blue').spec.replicas = 3;
  }, rules.ownedFields, 'would reset what HPA order-service-blue scaled'],
  ['an image the pipeline does not push', (d) => {
    find(d, 'Deployment', 'otel-collector').spec.template.spec.containers[0].image = 'otel/opentelemetry-collector-contrib:0.114.0';
  }, rules.images, "is not in the environment's registry"],
  ['plexus-host not at a commit', (d) => {
    find(d, 'Deployment', 'payment-worker').spec.template.spec.containers[0].image = `${opts.registry}/plexus-host:0.1.0`;
  }, rules.images, 'plexus-host must be pinned to a commit'],
  ['a third-party image not mirrored', (d) => {
    find(d, 'RabbitmqCluster', 'rabbitmq').spec.image = `${opts.registry}/mirror/library/rabbitmq:4.0.0`;
  }, rules.images, 'nor a mirror of infra/mirror-images.txt'],
  ['latest', (d) => {
    find(d, 'Deployment', 'payment-worker').spec.template.spec.containers[0].image = `${opts.registry}/plexus-host:latest`;
  }, rules.images, 'is not pinned'],
];
for (const [name, breakIt, rule, want] of cases) {
  const docs = fresh();
  const ok = rule(docs, opts);
  r.expect(ok.length === 0, name, `the rule already fails on the real render: ${ok.join(' | ')}`);
  breakIt(docs);
  const problems = rule(docs, opts);
  r.expect(problems.some((p) => p.includes(want)), name, `expected a problem containing '${want}', got: ${problems.join(' | ') || 'none'}`);
}

// Text inputs: the workflow and Bicep.
const workflow = fs.readFileSync(path.join(c.ROOT, '.github', 'workflows', 'deploy.yaml'), 'utf8');
const envFiles = {production: envFile,
                  staging: JSON.parse(fs.readFileSync(path.join(c.ROOT, 'infra', 'environments', 'staging.json'), 'utf8'))};
const textCases = [
  ['the workflow types an AKS name', () => rules.azureNames(`${workflow}\n          az aks get-credentials --resource-group rg-ecommerce-production --name ecommerce-aks-production\n`, envFiles),
   'names an Azure resource literally'],
  ['the workflow reads a name the environment file lacks', () => rules.azureNames(workflow.replace('.names.aks', '.names.cluster'), envFiles),
   'has no .names.cluster'],
  ['the workflow applies manifests itself', () => rules.azureNames(`${workflow}\n          kubectl apply -f rendered.yaml\n`, envFiles),
   'changes the cluster with kubectl directly'],
  ['Bicep names a resource literally', () => rules.bicepNames(fs.readFileSync(path.join(c.ROOT, 'infra', 'resources.bicep'), 'utf8')
      .replace('name: env.names.aks', "name: 'aks-ecommerce-production'")), 'does not come from the environment file'],
  ['a ServiceAccount Azure does not trust', () => {
    const docs = fresh();
    const sa = JSON.parse(JSON.stringify(find(docs, 'ServiceAccount', 'payment-worker')));
    sa.metadata.name = 'payment-worker-2';
    docs.push(sa);
    return rules.federation(docs, fs.readFileSync(path.join(c.ROOT, 'infra', 'resources.bicep'), 'utf8'));
  }, 'no federated credential for it'],
];
// Custom resources against the operators' schemas: an unknown field is refused (the API server
// would prune it silently), whether the schema comes from a @kubernetes-models CRD package or
// from an API reference (tests/deploy/schemas).
const Ajv = c.tool('ajv');
const {StrictSchemas} = require('./lib/k8s-strict');
const strictOf = (d) => {
  const hand = {RabbitmqCluster: 'rabbitmqcluster.schema.json', SecretProviderClass: 'secretproviderclass.schema.json'}[d.kind];
  const s = hand ? JSON.parse(fs.readFileSync(path.join(__dirname, 'schemas', hand), 'utf8'))
    : JSON.parse(JSON.stringify(new StrictSchemas(c.toolRequire()).schemaFor(d.apiVersion, d.kind)));
  return new Ajv({allErrors: true, strict: false}).compile(s);
};
for (const [kind, name, breakIt] of [
  ['ServiceMonitor', 'plexus-host', (d) => { d.spec.endpoints[0].intervall = '30s'; }],
  ['Certificate', 'rabbitmq-tls', (d) => { d.spec.dnsName = d.spec.dnsNames; }],
  ['RabbitmqCluster', 'rabbitmq', (d) => { d.spec.rabbitmq.additionalPlugin = ['rabbitmq_consistent_hash_exchange']; }],
  ['SecretProviderClass', 'payment-worker-secrets', (d) => { d.spec.parameters.keyVaultName = d.spec.parameters.keyvaultName; }],
]) {
  const d = JSON.parse(JSON.stringify(find(base, kind, name)));
  const v = strictOf(d);
  r.expect(v(d), `${kind} schema`, `the real ${kind} already fails: ${JSON.stringify(v.errors)}`);
  breakIt(d);
  r.expect(!v(d) && v.errors.some((e) => e.keyword === 'additionalProperties'), `${kind} schema`, 'an unknown field must be refused');
}

r.expect(rules.azureNames(workflow, envFiles).length === 0, 'workflow', 'the real workflow already fails');
for (const [name, run, want] of textCases) {
  const problems = run();
  r.expect(problems.some((p) => p.includes(want)), name, `expected a problem containing '${want}', got: ${problems.join(' | ') || 'none'}`);
}
r.finish(`${cases.length + textCases.length + 4} broken inputs, each caught`);
