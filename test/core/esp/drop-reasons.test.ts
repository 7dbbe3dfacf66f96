import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DROP, DROP_REASONS, DROP_REASON_DOCS } from '@xfrm/core';

describe('drop reasons', () => {
  it('are Linux xfrm_stat names, each documented here and in docs/DROP-REASONS.md', () => {
    const doc = readFileSync(new URL('../../../docs/DROP-REASONS.md', import.meta.url), 'utf8');
    for (const r of DROP_REASONS) {
      expect(r).toMatch(/^Xfrm(In|Out)[A-Za-z]+$/);
      expect(DROP_REASON_DOCS[r].length).toBeGreaterThan(10);
      expect(doc).toContain(`| \`${r}\` | ${DROP_REASON_DOCS[r]} |`);
      expect(DROP_REASONS[DROP[r]]).toBe(r);
    }
  });
});
