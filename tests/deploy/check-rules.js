#!/usr/bin/env node
'use strict';
// deploy.rules: the static rehearsal's rules (lib/rules.js) on every whole-system overlay, the
// workflow and Bicep. deploy.rules-fail proves each rule fails on a broken input.
const fs = require('fs');
const path = require('path');
const c = require('./lib/common');
const rules = require('./lib/rules');

const r = new c.Report('deploy.rules');
const bootstrap = c.renderPath(path.join(c.KUSTOMIZE, 'bootstrap'));
const envFiles = {};
for (const e of ['production', 'staging']) {
  envFiles[e] = JSON.parse(fs.readFileSync(path.join(c.ROOT, 'infra', 'environments', `${e}.json`), 'utf8'));
}
const registryOf = (e) => `${envFiles[e].names.acr}.azurecr.io`;
let n = 0;
const report = (where, problems) => {
  for (const p of problems) r.fail(where, p);
  n++;
};
for (const o of c.SYSTEM_OVERLAYS) {
  let docs;
  try {
    docs = c.render(o);
  } catch (e) {
    r.fail(`overlays/${o}`, e.message);
    continue;
  }
  const cloud = Boolean(envFiles[o]);
  // The podman-only overlay has no Namespace object: podman has no namespaces.
  const opts = {bootstrap: cloud ? bootstrap : o === 'local' ? bootstrap.filter((d) => d.kind === 'Namespace') : [],
                registry: cloud ? registryOf(o) : null};
  report(`overlays/${o} references`, rules.references(docs, opts));
  report(`overlays/${o} selectors`, rules.selectors(docs));
  report(`overlays/${o} controller-owned fields`, rules.ownedFields(docs));
  report(`overlays/${o} images`, rules.images(docs, opts));
  if (o === 'production') {
    const bicep = fs.readFileSync(path.join(c.ROOT, 'infra', 'resources.bicep'), 'utf8');
    report('infra/resources.bicep federation', rules.federation(docs, bicep));
  }
}
const workflow = fs.readFileSync(path.join(c.ROOT, '.github', 'workflows', 'deploy.yaml'), 'utf8');
report('.github/workflows/deploy.yaml Azure names', rules.azureNames(workflow, envFiles));
for (const f of ['main.bicep', 'resources.bicep']) {
  const text = fs.readFileSync(path.join(c.ROOT, 'infra', f), 'utf8');
  if (f === 'resources.bicep') report(`infra/${f} names`, rules.bicepNames(text));
}
r.finish(`${n} rule runs over ${c.SYSTEM_OVERLAYS.join(', ')}, the workflow and Bicep`);
