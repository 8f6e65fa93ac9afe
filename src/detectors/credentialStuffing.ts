// PLACEHOLDER: being written; replaced before commit.
import { z } from 'zod';
import { defineDetector } from './types.js';

export const credentialStuffing = defineDetector({
  id: 'credential_stuffing',
  keyKind: 'ip',
  defaultSeverity: 'high',
  description: 'placeholder',
  options: z.strictObject({}),
  create() {
    return { id: 'credential_stuffing', keyKind: 'ip', stateVersion: 1, retentionMs: 0, keyOf: () => undefined, onEvent: (_e, s) => s };
  },
});
