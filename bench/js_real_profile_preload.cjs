// Node's inspector CPU profiler for the js-real host, loaded with
// NODE_OPTIONS="--require <this file>" (bench/js_real_profile.sh; `--cpu-prof` is refused in
// NODE_OPTIONS).  Every Node process started with it writes <SYNCSIM_JS_PROF_DIR>/<pid>.cpuprofile
// when it exits.  Cost measurement only: nothing here reaches the host's messages or the trace.
'use strict';
const inspector = require('node:inspector');
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.SYNCSIM_JS_PROF_DIR;
// SYNCSIM_JS_PROF_TURBOFAN=1: undo the host's --no-opt (what would the SDK cost optimised?).
if (dir && process.env.SYNCSIM_JS_PROF_TURBOFAN === '1') require('node:v8').setFlagsFromString('--opt');
if (dir) {
  const session = new inspector.Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', {
    interval: Number(process.env.SYNCSIM_JS_PROF_INTERVAL_US || 250),
  });
  session.post('Profiler.start');
  process.on('exit', () => {
    // An in-process session answers synchronously, so this runs before the process ends.
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      fs.writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
