#!/usr/bin/env node
// Offline checks of ci/k8s/syncsim-indexed-job.yaml (issue 21): the documents parse, the
// sweep is an Indexed Job whose pods get their shard from JOB_COMPLETION_INDEX with
// JOB_COMPLETIONS equal to spec.completions, each writes its own shard file to a volume the
// merge Job reads, and every mount names a declared volume and claim.
//   NODE_PATH=<pinned node_modules> node tests/k8s_manifest_test.js MANIFEST
'use strict';
const fs = require('fs');
const yaml = require('js-yaml');

const docs = yaml.loadAll(fs.readFileSync(process.argv[2], 'utf8')).filter(Boolean);
let failures = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) ++failures;
};
const byName = Object.fromEntries(docs.map((d) => [`${d.kind}/${d.metadata && d.metadata.name}`, d]));
for (const d of docs) {
  check(typeof d.apiVersion === 'string' && typeof d.kind === 'string' && d.metadata && d.metadata.name,
        `${d.kind}/${d.metadata && d.metadata.name}: apiVersion, kind, metadata.name`);
}
const sweep = byName['Job/syncsim-sweep'], merge = byName['Job/syncsim-merge'];
check(sweep && merge, 'a sweep Job and a merge Job');
check(sweep.apiVersion === 'batch/v1' && sweep.spec.completionMode === 'Indexed',
      'the sweep is a batch/v1 Indexed Job');
const n = sweep.spec.completions;
check(Number.isInteger(n) && n >= 1, `completions is a positive integer (${n})`);
check(sweep.spec.parallelism === undefined || (sweep.spec.parallelism >= 1 && sweep.spec.parallelism <= n),
      'parallelism within 1..completions');
const pod = sweep.spec.template.spec;
check(['Never', 'OnFailure'].includes(pod.restartPolicy), 'restartPolicy Never or OnFailure (required by Jobs)');
check(pod.containers.length === 1, 'one container per shard pod');
const c = pod.containers[0];
const env = Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));
check(env.JOB_COMPLETIONS === String(n), `JOB_COMPLETIONS (${env.JOB_COMPLETIONS}) equals spec.completions (${n})`);
check(!('JOB_COMPLETION_INDEX' in env), 'JOB_COMPLETION_INDEX is left to Kubernetes');
const cmd = [...(c.command || []), ...(c.args || [])].join(' ');
check(/syncsim sweep .*--shard auto/.test(cmd), 'the sweep runs with --shard auto');
check(/--seeds [0-9]+\.\.[0-9]+/.test(cmd), 'a seed range');
check(!/--shard [0-9]/.test(cmd), 'no fixed shard');
const out = /--results (\S+)/.exec(cmd);
check(out && out[1].includes('$(JOB_COMPLETION_INDEX)'), 'each pod writes its own shard file');
const mergeCmd = [...merge.spec.template.spec.containers[0].command, ...merge.spec.template.spec.containers[0].args].join(' ');
const dir = out && out[1].slice(0, out[1].lastIndexOf('/'));
check(mergeCmd.includes(`syncsim merge ${dir}/shard-*.json`), `the merge reads ${dir}/shard-*.json`);
for (const job of [sweep, merge]) {
  const spec = job.spec.template.spec;
  const volumes = Object.fromEntries((spec.volumes || []).map((v) => [v.name, v]));
  for (const ct of spec.containers) {
    for (const m of ct.volumeMounts || []) {
      check(m.name in volumes, `${job.metadata.name}: mount ${m.name} names a volume`);
      if (m.mountPath === dir) check(true, `${job.metadata.name}: ${dir} is a mounted volume`);
      const claim = volumes[m.name] && volumes[m.name].persistentVolumeClaim;
      if (claim) check(byName[`PersistentVolumeClaim/${claim.claimName}`], `claim ${claim.claimName} is declared`);
    }
  }
  check((spec.containers[0].volumeMounts || []).some((m) => m.mountPath === dir), `${job.metadata.name} mounts ${dir}`);
}
const pvc = Object.values(byName).find((d) => d.kind === 'PersistentVolumeClaim');
check(pvc && pvc.spec.accessModes.includes('ReadWriteMany'), 'the results claim is ReadWriteMany (pods on many nodes)');
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
