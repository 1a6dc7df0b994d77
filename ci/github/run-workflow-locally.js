#!/usr/bin/env node
// Runs a workflow's jobs on this machine, as GitHub would but without GitHub: every `run:`
// step is executed by `bash --noprofile --norc -eo pipefail` (GitHub's default shell) in a
// fresh directory per job (matrix jobs: per index) with the step's `env:` and
// $GITHUB_OUTPUT; the few `uses:` actions the workflow needs are emulated (checkout: links
// to the source tree; cache: nothing; upload/download-artifact: copies under _artifacts).
// Expressions: inputs.*, matrix.*, steps.*.outputs.*, needs.*.outputs.*, fromJSON(...),
// hashFiles(...), github.sha, always(), and `!cancelled() && needs.X.result == 'success'`;
// anything else is an error, so that the workflow stays runnable here.
//   node run-workflow-locally.js WORKFLOW --workspace DIR --source SRC
//        [--prebuilt BUILD_DIR] [--input NAME=VALUE]...
// --prebuilt: the steps with id `deps` and `build` are replaced by links to BUILD_DIR's
// syncsim and _deps (the test does not rebuild the project).  Exit 0 if every job passed,
// else 1; a line `job <name>: success|failure` per job.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const yaml = require('js-yaml');

function parseArgs(argv) {
  const a = { inputs: {} };
  a.workflow = argv[0];
  for (let i = 1; i < argv.length; i++) {
    const k = argv[i], v = argv[++i];
    if (k === '--workspace') a.workspace = path.resolve(v);
    else if (k === '--source') a.source = path.resolve(v);
    else if (k === '--prebuilt') a.prebuilt = path.resolve(v);
    else if (k === '--input') {
      const eq = v.indexOf('=');
      a.inputs[v.slice(0, eq)] = v.slice(eq + 1);
    } else throw new Error(`unknown argument ${k}`);
  }
  if (!a.workflow || !a.workspace || !a.source) {
    throw new Error('usage: run-workflow-locally.js WORKFLOW --workspace DIR --source SRC ...');
  }
  return a;
}

const args = parseArgs(process.argv.slice(2));
const wf = yaml.load(fs.readFileSync(args.workflow, 'utf8'));
const declared = (wf.on && wf.on.workflow_call && wf.on.workflow_call.inputs) || {};
const inputs = {};
for (const [k, spec] of Object.entries(declared)) inputs[k] = spec.default ?? '';
for (const [k, v] of Object.entries(args.inputs)) {
  if (!(k in declared)) throw new Error(`--input ${k}: the workflow has no such input`);
  const type = declared[k].type;
  inputs[k] = type === 'number' ? Number(v) : type === 'boolean' ? v === 'true' : v;
}
const artifacts = path.join(args.workspace, '_artifacts');
fs.mkdirSync(artifacts, { recursive: true });
const jobResults = {};  // name -> {result, outputs}

function lookup(expr, ctx) {
  const e = expr.trim();
  let m;
  if ((m = /^inputs\.([\w-]+)$/.exec(e))) return inputs[m[1]];
  if ((m = /^matrix\.([\w-]+)$/.exec(e))) return ctx.matrix[m[1]];
  if ((m = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(e))) return (ctx.steps[m[1]] || {})[m[2]] ?? '';
  if ((m = /^needs\.([\w-]+)\.outputs\.([\w-]+)$/.exec(e))) return jobResults[m[1]].outputs[m[2]] ?? '';
  if ((m = /^fromJSON\((.*)\)$/.exec(e))) return JSON.parse(lookup(m[1], ctx));
  if (/^hashFiles\(/.test(e) || e === 'github.sha') return 'local';
  if (e === 'always()') return true;
  if ((m = /^!cancelled\(\) && needs\.([\w-]+)\.result == 'success'$/.exec(e))) {
    return jobResults[m[1]].result === 'success';
  }
  throw new Error(`expression not supported by the local runner: \${{ ${e} }}`);
}

// A string with every ${{ }} replaced; a value that is one whole expression keeps its type.
function evaluate(text, ctx) {
  if (typeof text !== 'string') return text;
  const whole = /^\$\{\{(.*)\}\}$/s.exec(text.trim());
  if (whole && !whole[1].includes('}}')) return lookup(whole[1], ctx);
  return text.replace(/\$\{\{(.*?)\}\}/g, (_, e) => String(lookup(e, ctx)));
}

function copyInto(from, to) {
  fs.cpSync(from, to, { recursive: true, dereference: true });
}

function checkout(dir) {
  for (const entry of fs.readdirSync(args.source)) {
    if (entry === 'build' || entry === '.git') continue;
    fs.symlinkSync(path.join(args.source, entry), path.join(dir, entry));
  }
}

function upload(dir, w, ctx) {
  const name = evaluate(w.name, ctx);
  const paths = String(evaluate(w.path, ctx)).split('\n').map((p) => p.trim()).filter(Boolean);
  const abs = paths.map((p) => path.resolve(dir, p));
  // The artifact's root is the paths' common directory (a single directory: itself).
  let root = abs.length === 1 && fs.statSync(abs[0]).isDirectory() ? abs[0] : path.dirname(abs[0]);
  while (!abs.every((p) => p === root || p.startsWith(root + path.sep))) root = path.dirname(root);
  const dest = path.join(artifacts, name);
  fs.mkdirSync(dest, { recursive: true });
  for (const p of abs) {
    if (!fs.existsSync(p)) throw new Error(`upload-artifact ${name}: ${p} does not exist`);
    copyInto(p, path.join(dest, path.relative(root, p)));
  }
}

function download(dir, w, ctx) {
  const dest = path.resolve(dir, evaluate(w.path, ctx));
  fs.mkdirSync(dest, { recursive: true });
  if (w.name) {
    copyInto(path.join(artifacts, evaluate(w.name, ctx)), dest);
    return;
  }
  const re = new RegExp('^' + evaluate(w.pattern, ctx).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*') + '$');
  for (const name of fs.readdirSync(artifacts).filter((n) => re.test(n)).sort()) {
    copyInto(path.join(artifacts, name), w['merge-multiple'] ? dest : path.join(dest, name));
  }
}

function prebuilt(dir) {
  fs.mkdirSync(path.join(dir, 'build'), { recursive: true });
  fs.symlinkSync(path.join(args.prebuilt, 'syncsim'), path.join(dir, 'build', 'syncsim'));
  fs.symlinkSync(path.join(args.prebuilt, '_deps'), path.join(dir, 'build', '_deps'));
}

function runJob(name, job, matrix) {
  const label = matrix ? `${name} (${JSON.stringify(matrix)})` : name;
  const dir = path.join(args.workspace, matrix ? `${name}-${Object.values(matrix).join('-')}` : name);
  fs.mkdirSync(dir, { recursive: true });
  const ctx = { matrix: matrix || {}, steps: {} };
  let failed = false;
  for (const [i, step] of job.steps.entries()) {
    const title = step.name || step.uses || `step ${i}`;
    if (step.if !== undefined ? !evaluate(step.if, ctx) : failed) {
      console.log(`[${label}] skip: ${title}`);
      continue;
    }
    if (step.uses) {
      const action = step.uses.split('@')[0];
      if (action === 'actions/checkout') checkout(dir);
      else if (action === 'actions/upload-artifact') upload(dir, step.with, ctx);
      else if (action === 'actions/download-artifact') download(dir, step.with, ctx);
      else if (action !== 'actions/cache') throw new Error(`action ${action} not emulated`);
      console.log(`[${label}] ok (emulated): ${title}`);
      continue;
    }
    if (args.prebuilt && (step.id === 'deps' || step.id === 'build')) {
      if (step.id === 'build') prebuilt(dir);
      console.log(`[${label}] ok (prebuilt): ${title}`);
      continue;
    }
    const env = { ...process.env, CI: 'true', GITHUB_WORKSPACE: dir };
    for (const [k, v] of Object.entries(step.env || {})) env[k] = String(evaluate(v, ctx));
    const outFile = path.join(dir, `.github_output_${i}`);
    fs.writeFileSync(outFile, '');
    env.GITHUB_OUTPUT = outFile;
    const script = path.join(dir, `.step_${i}.sh`);
    fs.writeFileSync(script, evaluate(step.run, ctx));
    const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', script],
                        { cwd: dir, env, stdio: ['ignore', 'inherit', 'inherit'] });
    const outputs = {};
    for (const line of fs.readFileSync(outFile, 'utf8').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) outputs[line.slice(0, eq)] = line.slice(eq + 1);
    }
    if (step.id) ctx.steps[step.id] = outputs;
    console.log(`[${label}] ${r.status === 0 ? 'ok' : `FAILED (exit ${r.status})`}: ${title}`);
    if (r.status !== 0) failed = true;
  }
  return { failed, ctx };
}

// Jobs in an order that respects `needs`.
const order = [];
const visit = (n) => {
  if (order.includes(n)) return;
  const needs = [].concat(wf.jobs[n].needs || []);
  needs.forEach(visit);
  order.push(n);
};
Object.keys(wf.jobs).forEach(visit);

let allOk = true;
for (const name of order) {
  const job = wf.jobs[name];
  const needs = [].concat(job.needs || []);
  const ready = job.if !== undefined ? evaluate(job.if, { matrix: {}, steps: {} })
    : needs.every((n) => jobResults[n].result === 'success');
  if (!ready) {
    jobResults[name] = { result: 'skipped', outputs: {} };
    console.log(`job ${name}: skipped`);
    continue;
  }
  const instances = [];
  if (job.strategy && job.strategy.matrix) {
    const axes = Object.entries(job.strategy.matrix).map(([k, v]) => [k, evaluate(v, { matrix: {}, steps: {} })]);
    if (axes.length !== 1) throw new Error('the local runner supports one matrix axis');
    for (const v of axes[0][1]) instances.push({ [axes[0][0]]: v });
  } else {
    instances.push(null);
  }
  let failed = false, ctx = null;
  for (const m of instances) {
    const r = runJob(name, job, m);
    failed = failed || r.failed;
    ctx = r.ctx;
  }
  const outputs = {};
  for (const [k, v] of Object.entries(job.outputs || {})) outputs[k] = String(evaluate(v, ctx));
  jobResults[name] = { result: failed ? 'failure' : 'success', outputs };
  console.log(`job ${name}: ${jobResults[name].result}`);
  if (failed) allOk = false;
}
process.exit(allOk ? 0 : 1);
