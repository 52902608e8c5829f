'use strict';
// What a Kubernetes cluster with the prerequisite operators does with our objects, as far as the
// rehearsal needs it (there is no API server here): which kinds exist (built-in or from a
// prerequisite CRD), what controllers and operators create from an object (pods, the
// RabbitmqCluster's Secrets and Services, cert-manager's certificate Secrets, the Secrets the
// Key Vault CSI driver syncs), and what a pod template needs before a pod can start. The static
// rules (rules.js) and the kubectl double of the replay (cluster-double.js) share it.

// Built-in kinds: group/version -> kind -> plural resource (RBAC) and namespaced.
const BUILTIN = {
  'v1': {Namespace: ['namespaces', false], ServiceAccount: ['serviceaccounts', true], Service: ['services', true],
         ConfigMap: ['configmaps', true], Secret: ['secrets', true], PersistentVolumeClaim: ['persistentvolumeclaims', true],
         Pod: ['pods', true]},
  'apps/v1': {Deployment: ['deployments', true], StatefulSet: ['statefulsets', true], DaemonSet: ['daemonsets', true]},
  'batch/v1': {Job: ['jobs', true], CronJob: ['cronjobs', true]},
  'policy/v1': {PodDisruptionBudget: ['poddisruptionbudgets', true]},
  'autoscaling/v2': {HorizontalPodAutoscaler: ['horizontalpodautoscalers', true]},
  'networking.k8s.io/v1': {NetworkPolicy: ['networkpolicies', true], Ingress: ['ingresses', true]},
  'rbac.authorization.k8s.io/v1': {Role: ['roles', true], RoleBinding: ['rolebindings', true],
                                   ClusterRole: ['clusterroles', false], ClusterRoleBinding: ['clusterrolebindings', false]},
  'scheduling.k8s.io/v1': {PriorityClass: ['priorityclasses', false]},
};

// The CRDs the prerequisites install (docs/deploy.md, "Cluster prerequisites"): name -> kind.
const PREREQUISITE_CRDS = {
  'rabbitmqclusters.rabbitmq.com': {apiVersion: 'rabbitmq.com/v1beta1', kind: 'RabbitmqCluster', plural: 'rabbitmqclusters', by: 'RabbitMQ Cluster Operator'},
  'certificates.cert-manager.io': {apiVersion: 'cert-manager.io/v1', kind: 'Certificate', plural: 'certificates', by: 'cert-manager'},
  'issuers.cert-manager.io': {apiVersion: 'cert-manager.io/v1', kind: 'Issuer', plural: 'issuers', by: 'cert-manager'},
  'clusterissuers.cert-manager.io': {apiVersion: 'cert-manager.io/v1', kind: 'ClusterIssuer', plural: 'clusterissuers', by: 'cert-manager'},
  'servicemonitors.monitoring.coreos.com': {apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', plural: 'servicemonitors', by: 'kube-prometheus-stack'},
  'prometheusrules.monitoring.coreos.com': {apiVersion: 'monitoring.coreos.com/v1', kind: 'PrometheusRule', plural: 'prometheusrules', by: 'kube-prometheus-stack'},
  'secretproviderclasses.secrets-store.csi.x-k8s.io': {apiVersion: 'secrets-store.csi.x-k8s.io/v1', kind: 'SecretProviderClass', plural: 'secretproviderclasses', by: 'AKS add-on azureKeyvaultSecretsProvider'},
};

// {group, plural, namespaced} of a kind, or null when the cluster does not know it.
function kindInfo(apiVersion, kind, crds) {
  const b = (BUILTIN[apiVersion] || {})[kind];
  if (b) return {group: apiVersion.includes('/') ? apiVersion.split('/')[0] : '', plural: b[0], namespaced: b[1]};
  for (const name of crds || Object.keys(PREREQUISITE_CRDS)) {
    const c = PREREQUISITE_CRDS[name];
    if (c && c.apiVersion === apiVersion && c.kind === kind) {
      return {group: apiVersion.split('/')[0], plural: c.plural, namespaced: kind !== 'ClusterIssuer'};
    }
  }
  return null;
}

const key = (kind, ns, name) => `${kind}/${ns || ''}/${name}`;
const keyOf = (o) => key(o.kind, o.metadata.namespace, o.metadata.name);

// Pod template of a workload, or null.
function templateOf(o) {
  if (['Deployment', 'StatefulSet', 'DaemonSet', 'Job'].includes(o.kind)) return o.spec && o.spec.template;
  if (o.kind === 'CronJob') return o.spec.jobTemplate.spec.template;
  if (o.kind === 'Pod') return {metadata: o.metadata, spec: o.spec};
  return null;
}

// What a controller or operator makes from an object (beyond pods): a RabbitmqCluster's default
// user Secret, Services and server pods (labels as the operator sets them); a Certificate's
// Secret, once its issuer exists.
function produced(o, has) {
  const ns = o.metadata.namespace;
  const n = o.metadata.name;
  const meta = (name, labels) => ({name, namespace: ns, labels: labels || {}});
  if (o.kind === 'RabbitmqCluster') {
    const labels = {'app.kubernetes.io/name': n, 'app.kubernetes.io/component': 'rabbitmq', 'app.kubernetes.io/part-of': 'rabbitmq'};
    return [
      {apiVersion: 'v1', kind: 'Secret', metadata: meta(`${n}-default-user`), data: {username: 'eA==', password: 'eA=='}},
      {apiVersion: 'v1', kind: 'Secret', metadata: meta(`${n}-erlang-cookie`)},
      {apiVersion: 'v1', kind: 'Service', metadata: meta(n), spec: {selector: labels}},
      {apiVersion: 'v1', kind: 'Service', metadata: meta(`${n}-nodes`), spec: {selector: labels}},
      {apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(`${n}-server`)},
      {apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: meta(`${n}-server`, labels),
       spec: {replicas: o.spec.replicas, selector: {matchLabels: labels},
              template: {metadata: {labels}, spec: {serviceAccountName: `${n}-server`, containers: [{name: 'rabbitmq', image: o.spec.image}]}}}},
    ];
  }
  if (o.kind === 'Certificate' && o.spec.issuerRef) {
    const ik = o.spec.issuerRef.kind || 'Issuer';
    if (has(ik, ik === 'ClusterIssuer' ? undefined : ns, o.spec.issuerRef.name)) {
      return [{apiVersion: 'v1', kind: 'Secret', metadata: meta(o.spec.secretName),
               data: {'ca.crt': 'eA==', 'tls.crt': 'eA==', 'tls.key': 'eA=='}}];
    }
  }
  return [];
}

// The Secrets the Key Vault CSI driver syncs for a pod: those of the SecretProviderClasses it
// mounts (a synced Secret exists while some pod mounts its class).
function syncedSecrets(template, ns, get) {
  const out = [];
  for (const v of (template.spec.volumes || [])) {
    if (!v.csi || v.csi.driver !== 'secrets-store.csi.k8s.io') continue;
    const spc = get('SecretProviderClass', ns, (v.csi.volumeAttributes || {}).secretProviderClass);
    for (const so of (spc && spc.spec.secretObjects) || []) {
      out.push({name: so.secretName, keys: (so.data || []).map((d) => d.key)});
    }
  }
  return out;
}

// Why a pod of `template` (in namespace ns) cannot start yet; [] when it can. `get(kind, ns, name)`
// returns an existing object; `synced` are Secrets other running pods' classes already sync.
function missingForPod(template, ns, get, synced) {
  const spec = template.spec;
  const missing = [];
  const mine = syncedSecrets(template, ns, get);
  const secretKeys = (name) => {
    const s = get('Secret', ns, name);
    if (s) return new Set(Object.keys(s.data || {}).concat(Object.keys(s.stringData || {})));
    const sync = mine.concat(synced || []).filter((x) => x.name === name);
    return sync.length ? new Set(sync.flatMap((x) => x.keys)) : null;
  };
  const need = (kind, name, why) => {
    if (!get(kind, ns, name)) missing.push(`${kind} ${name} (${why}) not found`);
  };
  need('ServiceAccount', spec.serviceAccountName || 'default', 'serviceAccountName');
  if (spec.priorityClassName) {
    if (!get('PriorityClass', undefined, spec.priorityClassName)) missing.push(`PriorityClass ${spec.priorityClassName} not found`);
  }
  for (const v of spec.volumes || []) {
    if (v.configMap && !v.configMap.optional) need('ConfigMap', v.configMap.name, `volume ${v.name}`);
    if (v.secret && !v.secret.optional) {
      const keys = secretKeys(v.secret.secretName);
      if (!keys) missing.push(`Secret ${v.secret.secretName} (volume ${v.name}) not found`);
      for (const it of v.secret.items || []) {
        if (keys && !keys.has(it.key)) missing.push(`Secret ${v.secret.secretName} has no key ${it.key} (volume ${v.name})`);
      }
    }
    if (v.persistentVolumeClaim) need('PersistentVolumeClaim', v.persistentVolumeClaim.claimName, `volume ${v.name}`);
    if (v.csi && v.csi.driver === 'secrets-store.csi.k8s.io') {
      need('SecretProviderClass', (v.csi.volumeAttributes || {}).secretProviderClass, `volume ${v.name}`);
    }
  }
  for (const c of (spec.initContainers || []).concat(spec.containers || [])) {
    for (const e of c.env || []) {
      const vf = e.valueFrom || {};
      if (vf.secretKeyRef && !vf.secretKeyRef.optional) {
        const keys = secretKeys(vf.secretKeyRef.name);
        if (!keys) missing.push(`Secret ${vf.secretKeyRef.name} (env ${e.name} of ${c.name}) not found`);
        else if (!keys.has(vf.secretKeyRef.key)) missing.push(`Secret ${vf.secretKeyRef.name} has no key ${vf.secretKeyRef.key} (env ${e.name} of ${c.name})`);
      }
      if (vf.configMapKeyRef && !vf.configMapKeyRef.optional) {
        const cm = get('ConfigMap', ns, vf.configMapKeyRef.name);
        if (!cm) missing.push(`ConfigMap ${vf.configMapKeyRef.name} (env ${e.name} of ${c.name}) not found`);
        else if (!Object.prototype.hasOwnProperty.call(cm.data || {}, vf.configMapKeyRef.key)) {
          missing.push(`ConfigMap ${vf.configMapKeyRef.name} has no key ${vf.configMapKeyRef.key} (env ${e.name} of ${c.name})`);
        }
      }
    }
    for (const ef of c.envFrom || []) {
      if (ef.configMapRef && !ef.configMapRef.optional) need('ConfigMap', ef.configMapRef.name, `envFrom of ${c.name}`);
      if (ef.secretRef && !ef.secretRef.optional && !secretKeys(ef.secretRef.name)) missing.push(`Secret ${ef.secretRef.name} (envFrom of ${c.name}) not found`);
    }
  }
  return missing;
}

module.exports = {BUILTIN, PREREQUISITE_CRDS, kindInfo, key, keyOf, templateOf, produced, syncedSecrets, missingForPod};
