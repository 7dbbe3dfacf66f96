// Where the addon is missing (not built, or XFRM_NATIVE=0), the library still imports and
// runs on noble, and asking for the native backend is a clear error, before any thread starts.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));

const script = `
import { aeadBackend, defaultAeadBackendName, aeadFallbackNote, nativeAvailable, NativeUnavailableError } from '@xfrm/core';
import { Dataplane } from '@xfrm/workers';
const out = { available: nativeAvailable(), default: defaultAeadBackendName(), note: aeadFallbackNote() };
try { aeadBackend('native'); } catch (e) { out.error = e.message; out.typed = e instanceof NativeUnavailableError; }
try { await Dataplane.create({ crypto: 'native' }); } catch (e) { out.dataplane = e.message; }
const dp = await Dataplane.create({ queues: 1 });
await dp.apply("ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x100 reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' 0x${'11'.repeat(20)} 128");
await dp.apply('ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel');
const p = new Uint8Array(28); p.set([0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 1, 0, 1, 10, 2, 0, 1]);
out.verdict = (await dp.process([p], 'out'))[0].verdict;
await dp.close();
console.log(JSON.stringify(out));
`;

describe('without the native addon', () => {
  it('imports, defaults to noble with a note saying why, refuses native clearly, and carries traffic', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, XFRM_NATIVE: '0' },
    });
    const out = JSON.parse(stdout);
    expect(out.available).toBe(false);
    expect(out.default).toBe('noble');
    expect(out.note).toMatch(/crypto backend: noble \(native unavailable: turned off by XFRM_NATIVE=0\)/);
    expect(out.typed).toBe(true);
    expect(out.error).toMatch(/native crypto backend is not available: turned off by XFRM_NATIVE=0.*build:addon.*--crypto-backend noble\|node/);
    expect(out.dataplane).toBe(out.error);
    expect(out.verdict).toBe('transmitted');
  });
});
