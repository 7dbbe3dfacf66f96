// Builds the addon from source at install (node-gyp against the headers of the Node that runs
// this, OpenSSL's included: nothing is downloaded). A failed build is not a failed install:
// the library runs without the addon and says why only when its features are asked for.
// The reason is kept in build/addon-error.txt for that message.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const errorFile = join(here, 'build', 'addon-error.txt');

function fail(reason) {
  mkdirSync(join(here, 'build'), { recursive: true });
  writeFileSync(errorFile, reason + '\n');
  console.warn(`@xfrm/native: addon not built (${reason.split('\n')[0]}); the native crypto backend is off, noble and node remain`);
  process.exit(0);
}

if (process.env.XFRM_NATIVE === '0') fail('XFRM_NATIVE=0 at install');
// Node's headers (with OpenSSL's) beside the running node, as Debian, nvm and the official
// tarballs lay them out; npm_config_nodedir overrides.
const nodedir = process.env.npm_config_nodedir || dirname(dirname(process.execPath));
if (!existsSync(join(nodedir, 'include', 'node', 'node_api.h')) || !existsSync(join(nodedir, 'include', 'node', 'openssl', 'evp.h'))) {
  fail(`Node's headers not found in ${join(nodedir, 'include', 'node')} (set npm_config_nodedir to a folder with include/node)`);
}
let gyp;
try {
  gyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
} catch {
  fail('node-gyp is not installed');
}
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`], { cwd: here, encoding: 'utf8' });
if (r.status !== 0) fail(`node-gyp rebuild failed:\n${(r.stdout ?? '') + (r.stderr ?? '')}`.slice(0, 20000));
rmSync(errorFile, { force: true });
console.log(`@xfrm/native: addon built against ${nodedir}/include/node`);
