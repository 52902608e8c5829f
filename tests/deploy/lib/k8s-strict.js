'use strict';
// Strict JSON Schemas (unknown fields refused) for built-in Kubernetes kinds, derived from the
// type declarations that ship with kubernetes-models (Kubernetes 1.27 OpenAPI), and for the
// ServiceMonitor, PrometheusRule, Certificate and Issuer custom resources from those of
// @kubernetes-models/prometheus-operator and @kubernetes-models/cert-manager (generated from the
// operators' CRDs). Its own
// validate() checks types and required fields but lets unknown fields through (a "replicaz:"
// typo passes), so this second pass walks the same model and sets additionalProperties: false.
const fs = require('fs');
const path = require('path');

// API group -> the npm package of @kubernetes-models that has its CRDs' types.
const CRD_PACKAGES = {
  'monitoring.coreos.com': '@kubernetes-models/prometheus-operator',
  'cert-manager.io': '@kubernetes-models/cert-manager',
};

class StrictSchemas {
  constructor(req) {
    this.req = req;  // require() rooted at tools/node
    this.defs = {};
    this.parsed = new Map();
  }

  // The .d.ts file of a top-level kind, e.g. ("apps/v1", "Deployment"); custom resources from the
  // @kubernetes-models packages generated from the operators' real CRDs.
  kindFile(apiVersion, kind) {
    const pkg = CRD_PACKAGES[apiVersion.split('/')[0]] || 'kubernetes-models';
    try {
      return this.req.resolve(`${pkg}/${apiVersion}/${kind}`).replace(/\.js$/, '.d.ts');
    } catch (e) {
      return null;
    }
  }

  // Schema for one top-level object; null when kubernetes-models has no such kind.
  schemaFor(apiVersion, kind) {
    const file = this.kindFile(apiVersion, kind);
    if (!file || !fs.existsSync(file)) return null;
    const key = this.define(file);
    return {$schema: 'http://json-schema.org/draft-07/schema#', definitions: this.defs,
            $ref: `#/definitions/${key}`};
  }

  define(file) {
    const key = path.relative(path.dirname(this.req.resolve('kubernetes-models/package.json')), file)
                    .replace(/[^A-Za-z0-9]+/g, '_');
    if (this.parsed.has(file)) return this.parsed.get(file);
    this.parsed.set(file, key);
    this.defs[key] = {};  // placeholder while recursing
    this.defs[key] = this.parse(file);
    return key;
  }

  resolveImport(fromFile, spec) {
    const base = spec.startsWith('.') ? path.resolve(path.dirname(fromFile), spec)
                                      : this.req.resolve(spec).replace(/\.js$/, '');
    return base.replace(/\.js$/, '') + '.d.ts';
  }

  parse(file) {
    const text = fs.readFileSync(file, 'utf8');
    if (/@kubernetes-models\/(prometheus-operator|cert-manager)\//.test(file)) return this.parseInline(file, text);
    const imports = {};
    for (const m of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
      for (const name of m[1].split(',').map((s) => s.trim())) {
        if (name.startsWith('I')) imports[name] = m[2];
      }
    }
    const start = text.search(/^export interface \w+/m);
    if (start < 0) return {};  // a type alias (IntOrString, Quantity, Time...): no object to check
    const body = text.slice(text.indexOf('{', start) + 1, text.indexOf('\n}', start));
    const lines = body.split('\n');
    const schema = {type: 'object', properties: {}, required: [], additionalProperties: false};
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (/^ {4}\[key: string\]/.test(line)) {
        schema.additionalProperties = true;
        continue;
      }
      const m = line.match(/^ {4}"([^"]+)"(\?)?: (.*)$/);
      if (!m) continue;
      let type = m[3];
      if (type === '{') {  // a map: { [key: string]: T; }
        const inner = lines[i + 1].match(/^ {8}\[key: string\]: (.*);$/);
        type = inner ? `Map<${inner[1]}>` : 'any';
        i += 2;
      } else {
        type = type.replace(/;$/, '');
      }
      schema.properties[m[1]] = this.typeSchema(file, imports, type);
      if (!m[2]) schema.required.push(m[1]);
    }
    if (!schema.required.length) delete schema.required;
    return schema;
  }

  // The CRD packages declare each kind as one interface with inline object types
  // ({ "a"?: T; [key: string]: T; }, Array<...>, literal unions): parsed recursively.
  parseInline(file, text) {
    const imports = {};
    for (const m of text.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
      for (const name of m[1].split(',').map((x) => x.trim())) imports[name] = m[2];
    }
    const src = text.replace(/\/\*[\s\S]*?\*\//g, '');
    const start = src.indexOf('{', src.search(/^export interface \w+/m));
    let i = start;
    const ws = () => {
      while (/\s/.test(src[i])) i++;
    };
    const expect = (t) => {
      ws();
      if (!src.startsWith(t, i)) throw new Error(`${file}: expected '${t}' at ${src.slice(i, i + 40)}`);
      i += t.length;
    };
    const parseType = () => {
      const alts = [parseAtom()];
      ws();
      while (src[i] === '|') {
        i++;
        alts.push(parseAtom());
        ws();
      }
      if (alts.length === 1) return alts[0];
      if (alts.every((a) => a.const !== undefined)) return {enum: alts.map((a) => a.const)};
      return {};  // number | string and the like: kubernetes-models' own validate() checks those
    };
    const parseAtom = () => {
      ws();
      if (src[i] === '{') return parseObject();
      if (src.startsWith('Array<', i)) {
        i += 6;
        const items = parseType();
        expect('>');
        return {type: 'array', items};
      }
      if (src[i] === '"') {
        const end = src.indexOf('"', i + 1);
        const lit = src.slice(i + 1, end);
        i = end + 1;
        return {const: lit};
      }
      const m = src.slice(i).match(/^[A-Za-z_][\w.]*/);
      i += m[0].length;
      if (['string', 'number', 'boolean'].includes(m[0])) return {type: m[0]};
      if (imports[m[0]] && m[0].startsWith('I')) {
        return {$ref: `#/definitions/${this.define(this.resolveImport(file, imports[m[0]]))}`};
      }
      return {};
    };
    const parseObject = () => {
      expect('{');
      const schema = {type: 'object', properties: {}, required: [], additionalProperties: false};
      for (;;) {
        ws();
        if (src[i] === '}') {
          i++;
          break;
        }
        if (src[i] === '[') {  // [key: string]: T;
          i = src.indexOf(']', i) + 1;
          expect(':');
          schema.additionalProperties = parseType();
          expect(';');
          continue;
        }
        const m = src.slice(i).match(/^"([^"]+)"(\?)?:/);
        if (!m) throw new Error(`${file}: cannot parse member at ${src.slice(i, i + 60)}`);
        i += m[0].length;
        schema.properties[m[1]] = parseType();
        if (!m[2]) schema.required.push(m[1]);
        expect(';');
      }
      if (!schema.required.length) delete schema.required;
      if (!Object.keys(schema.properties).length) delete schema.properties;
      return schema;
    };
    return parseObject();
  }

  typeSchema(file, imports, type) {
    let m;
    if ((m = type.match(/^Array<(.*)>$/))) {
      return {type: 'array', items: this.typeSchema(file, imports, m[1])};
    }
    if ((m = type.match(/^Map<(.*)>$/))) {
      return {type: 'object', additionalProperties: this.typeSchema(file, imports, m[1])};
    }
    if (type === 'string') return {type: 'string'};
    if (type === 'number') return {type: 'number'};
    if (type === 'boolean') return {type: 'boolean'};
    if (/^"[^"]*"( \| "[^"]*")*$/.test(type)) {
      return {enum: type.split(' | ').map((s) => JSON.parse(s))};
    }
    if (imports[type]) {
      return {$ref: `#/definitions/${this.define(this.resolveImport(file, imports[type]))}`};
    }
    return {};  // any, IX["kind"] and other forms: left to kubernetes-models' own validate()
  }
}

module.exports = {StrictSchemas, CRD_PACKAGES};
