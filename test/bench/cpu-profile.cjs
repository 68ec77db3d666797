// Preloaded into a process (NODE_OPTIONS="--require test/bench/cpu-profile.cjs", CPU_PROFILE_DIR=dir)
// to record a V8 CPU profile of it until it exits, written as <dir>/hub-<pid>.cpuprofile (open it in
// Chrome DevTools or speedscope). Node 20 refuses --cpu-prof in NODE_OPTIONS; the inspector does not.
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS preload, loaded by --require from NODE_OPTIONS */
const inspector = require('node:inspector');
const { writeFileSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.CPU_PROFILE_DIR || '.';
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.setSamplingInterval', { interval: 1000 });
session.post('Profiler.start');
process.on('exit', () => {
  // The in-process session answers synchronously, so this runs to the end before the process exits.
  session.post('Profiler.stop', (err, r) => {
    if (err) return;
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `hub-${process.pid}.cpuprofile`), JSON.stringify(r.profile));
  });
});
